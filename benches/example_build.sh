#!/usr/bin/env bash
# The cost of linking Weir: the clean build time of examples/custom-job (a user's own
# binary with its own job and operator) in a fresh target directory, and whether the
# measuring tools' dependencies (timely, differential-dataflow, plotters) or the plot font
# are in what it builds.
#
#   bash benches/example_build.sh            # dev profile, as a user iterates
#   PROFILE=release bash benches/example_build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-dev}
TARGET=$(mktemp -d)
trap 'rm -rf "$TARGET"' EXIT
cargo fetch --locked >/dev/null 2>&1
start=$(date +%s%N)
CARGO_TARGET_DIR=$TARGET cargo build --locked --profile "$PROFILE" -p weir-example-custom-job \
    >/dev/null 2>&1
end=$(date +%s%N)
ms=$(((end - start) / 1000000))
printf 'clean %s build of weir-example-custom-job: %d.%01d s\n' "$PROFILE" $((ms / 1000)) $((ms % 1000 / 100))
tree=$(cargo tree --locked -p weir-example-custom-job -e normal --prefix none 2>/dev/null)
# weir-bench holds the bundled plot font.
for crate in timely differential-dataflow plotters weir-bench; do
    if grep -q "^$crate v" <<<"$tree"; then
        echo "builds $crate: yes"
    else
        echo "builds $crate: no"
    fi
done
