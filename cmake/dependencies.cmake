# Finds the packages ShardLM builds with and prints one line for each, found or not, with a hint.
# All come from Debian packages; launch/install-deps.sh installs them.

function(shardlm_report name found detail hint)
  if(found)
    message(STATUS "[found]     ${name} ${detail}")
  else()
    message(STATUS "[not found] ${name}: ${hint}")
  endif()
endfunction()

set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)

find_package(fmt QUIET)
shardlm_report("fmt" "${fmt_FOUND}" "${fmt_VERSION}" "install libfmt-dev (launch/install-deps.sh)")

find_package(nlohmann_json QUIET)
shardlm_report("nlohmann-json" "${nlohmann_json_FOUND}" "${nlohmann_json_VERSION}" "install nlohmann-json3-dev")

find_package(MPI QUIET COMPONENTS CXX)
shardlm_report("MPI" "${MPI_CXX_FOUND}" "${MPI_CXX_VERSION}" "install libopenmpi-dev openmpi-bin")

# Debian 12's protobuf ships no CMake config, so use CMake's FindProtobuf; gRPC's config exists.
find_package(Protobuf QUIET)
shardlm_report("protobuf" "${Protobuf_FOUND}" "${Protobuf_VERSION}" "install libprotobuf-dev protobuf-compiler")
find_package(gRPC CONFIG QUIET)
find_program(SHARDLM_GRPC_CPP_PLUGIN grpc_cpp_plugin)
set(SHARDLM_GRPC_FOUND FALSE)
if(gRPC_FOUND AND SHARDLM_GRPC_CPP_PLUGIN)
  set(SHARDLM_GRPC_FOUND TRUE)
endif()
shardlm_report("gRPC" "${SHARDLM_GRPC_FOUND}" "${gRPC_VERSION}" "install libgrpc++-dev protobuf-compiler-grpc")

# cpp-httplib (the OpenAI-compatible HTTP API): Debian builds it as a library with OpenSSL, and its
# pkg-config file carries the defines the header must be read with.
find_package(PkgConfig QUIET)
set(SHARDLM_HTTPLIB_FOUND FALSE)
if(PkgConfig_FOUND)
  pkg_check_modules(HTTPLIB QUIET IMPORTED_TARGET cpp-httplib)
  set(SHARDLM_HTTPLIB_FOUND ${HTTPLIB_FOUND})
endif()
shardlm_report("cpp-httplib" "${SHARDLM_HTTPLIB_FOUND}" "${HTTPLIB_VERSION}" "install libcpp-httplib-dev pkg-config")

find_package(yaml-cpp QUIET)
shardlm_report("yaml-cpp" "${yaml-cpp_FOUND}" "${yaml-cpp_VERSION}" "install libyaml-cpp-dev")

if(SHARDLM_BUILD_TESTS)
  find_package(GTest QUIET)
  shardlm_report("GoogleTest" "${GTest_FOUND}" "" "install googletest libgtest-dev libgmock-dev")
endif()
if(SHARDLM_BUILD_BENCH)
  find_package(benchmark QUIET)
  shardlm_report("Google Benchmark" "${benchmark_FOUND}" "${benchmark_VERSION}" "install libbenchmark-dev")
endif()

set(missing "")
foreach(pair IN ITEMS "fmt;fmt_FOUND" "nlohmann-json;nlohmann_json_FOUND" "MPI;MPI_CXX_FOUND" "protobuf;Protobuf_FOUND" "gRPC;SHARDLM_GRPC_FOUND"
                      "yaml-cpp;yaml-cpp_FOUND" "cpp-httplib;SHARDLM_HTTPLIB_FOUND")
  list(GET pair 0 name)
  list(GET pair 1 variable)
  if(NOT ${variable})
    list(APPEND missing ${name})
  endif()
endforeach()
if(SHARDLM_BUILD_TESTS AND NOT GTest_FOUND)
  list(APPEND missing GoogleTest)
endif()
if(SHARDLM_BUILD_BENCH AND NOT benchmark_FOUND)
  list(APPEND missing "Google Benchmark")
endif()
if(missing)
  message(FATAL_ERROR "Required packages not found: ${missing}. Run ./launch/install-deps.sh first.")
endif()
