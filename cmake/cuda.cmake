# SHARDLM_CUDA=AUTO|ON|OFF -> SHARDLM_HAVE_CUDA. The CUDA backend links cudart (never libcuda: the
# toolkit's stub libcuda links fine and then fails at start-up on machines without a driver).

set(SHARDLM_HAVE_CUDA OFF)
if(NOT SHARDLM_CUDA STREQUAL "OFF")
  # nvcc is often installed outside PATH; look where the toolkit installs by default too.
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
    find_program(SHARDLM_NVCC nvcc)
    if(NOT SHARDLM_NVCC)
      set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
    endif()
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # Archs: 80 = A100 (Ampere), 90 = H100/H200 (Hopper). CUDA 13 dropped sm_70 (V100).
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
    enable_language(CUDA)
    # CMake 3.25 does not know nvcc's C++20 flag (nvcc 12+ has it): teach it, then ask for C++20.
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA_STANDARD 20)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    set(SHARDLM_HAVE_CUDA ON)
  elseif(SHARDLM_CUDA STREQUAL "ON")
    message(FATAL_ERROR "SHARDLM_CUDA=ON but no CUDA compiler (nvcc) was found; set CUDACXX or use SHARDLM_CUDA=AUTO")
  endif()
endif()
shardlm_report("CUDA" "${SHARDLM_HAVE_CUDA}" "${CMAKE_CUDA_COMPILER_VERSION} (archs ${CMAKE_CUDA_ARCHITECTURES})"
               "no nvcc: the CUDA backend is left out (SHARDLM_CUDA=${SHARDLM_CUDA})")
