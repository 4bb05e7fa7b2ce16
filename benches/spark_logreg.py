"""Spark MLlib's logistic regression (spark.ml LogisticRegression, local[2]) on a dense
CSV with a header and a `label` column: the peer `benches/logreg_spark.sh` times Weir's
logreg against. Prints the held-out accuracy and the seconds from session start to the
evaluated model as JSON.

usage: python spark_logreg.py TRAIN.csv TEST.csv [MAX_ITER]
"""
import json
import sys
import time

from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import MulticlassClassificationEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.sql import SparkSession


def main():
    train_path, test_path = sys.argv[1], sys.argv[2]
    max_iter = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    started = time.time()
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("logreg")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")

    def read(path):
        frame = spark.read.csv(path, header=True, inferSchema=True)
        features = [c for c in frame.columns if c != "label"]
        assembler = VectorAssembler(inputCols=features, outputCol="features")
        return assembler.transform(frame).select("label", "features")

    train = read(train_path).cache()
    model = LogisticRegression(maxIter=max_iter).fit(train)
    predictions = model.transform(read(test_path))
    accuracy = MulticlassClassificationEvaluator(metricName="accuracy").evaluate(predictions)
    seconds = time.time() - started
    print(json.dumps({"test_accuracy": accuracy, "iterations": model.summary.totalIterations,
                      "seconds": seconds}))
    spark.stop()


if __name__ == "__main__":
    main()
