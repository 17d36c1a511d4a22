#!/usr/bin/env bash
# Installs every system package ShardLM's build and tests need (Debian 12). Idempotent and
# non-interactive: packages already present are left alone, so a second run does nothing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libfmt-dev nlohmann-json3-dev
  libopenmpi-dev openmpi-bin
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libyaml-cpp-dev
  # the OpenAI-compatible HTTP API's server (Debian builds it with OpenSSL)
  libcpp-httplib-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-pip python3-venv openssl time
  # OpenBLAS: the peer of bench/prefill_gemm.cpp, which loads it at run time (nothing links it)
  libopenblas0-pthread
  # Clang and its libFuzzer / sanitizer runtimes: the fuzz targets (launch/fuzz.sh)
  clang libclang-rt-14-dev
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Python packages for the independent clients the tests run (grpcio, grpcio-tools; openai, the official
# client of the OpenAI-compatible HTTP API) and for bench/make_shaped_gguf.py, which writes the
# Llama-2-7B-shaped file a planner test runs (numpy, gguf), in a virtual
# environment inside the checkout (.venv/, ignored by git), so the system's Python is left alone.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
if "$venv/bin/python3" -c "import grpc, grpc_tools, openai, numpy, gguf" 2>/dev/null; then
  echo "install-deps: Python packages present in $venv"
else
  echo "install-deps: installing grpcio grpcio-tools openai numpy gguf into $venv"
  python3 -m venv "$venv"
  "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check grpcio grpcio-tools openai numpy gguf
fi
