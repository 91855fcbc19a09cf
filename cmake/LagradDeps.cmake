# Finds lagrad's dependencies and wraps them in the interface target lagrad_deps.
# Each missing one stops configure and names the Debian package that provides it.
#
# lagrad links the OpenMP build of OpenBLAS on purpose: its threads and lagrad's OpenMP
# loops then share one pool (see README, "Threads"). LAGRAD_OPENBLAS_DIR picks another.
set(LAGRAD_OPENBLAS_DIR "/usr/lib/x86_64-linux-gnu/openblas-openmp" CACHE PATH
    "Directory holding the OpenMP build of libopenblas")

find_package(OpenMP)
if(NOT OpenMP_C_FOUND)
  message(FATAL_ERROR "OpenMP for C not found: install the Debian package libgomp1 "
                      "(it comes with gcc)")
endif()

find_library(LAGRAD_OPENBLAS_LIB NAMES openblas
  PATHS ${LAGRAD_OPENBLAS_DIR} NO_DEFAULT_PATH)
if(NOT LAGRAD_OPENBLAS_LIB)
  find_library(LAGRAD_OPENBLAS_LIB NAMES openblas)
endif()
find_path(LAGRAD_CBLAS_INCLUDE cblas.h
  PATHS /usr/include/x86_64-linux-gnu/openblas-openmp NO_DEFAULT_PATH)
if(NOT LAGRAD_CBLAS_INCLUDE)
  find_path(LAGRAD_CBLAS_INCLUDE cblas.h PATH_SUFFIXES openblas)
endif()
if(NOT LAGRAD_OPENBLAS_LIB OR NOT LAGRAD_CBLAS_INCLUDE)
  message(FATAL_ERROR "OpenBLAS (OpenMP build) not found: "
                      "apt-get install libopenblas-openmp-dev")
endif()

find_library(LAGRAD_LAPACKE_LIB NAMES lapacke)
find_path(LAGRAD_LAPACKE_INCLUDE lapacke.h)
if(NOT LAGRAD_LAPACKE_LIB OR NOT LAGRAD_LAPACKE_INCLUDE)
  message(FATAL_ERROR "LAPACKE not found: apt-get install liblapacke-dev")
endif()

add_library(lagrad_deps INTERFACE)
target_include_directories(lagrad_deps INTERFACE ${LAGRAD_CBLAS_INCLUDE}
                           ${LAGRAD_LAPACKE_INCLUDE})
target_link_libraries(lagrad_deps INTERFACE ${LAGRAD_LAPACKE_LIB} ${LAGRAD_OPENBLAS_LIB}
                      OpenMP::OpenMP_C m)

# cJSON parses checkpoint headers (nn/checkpoint.c).
find_path(LAGRAD_CJSON_INCLUDE cjson/cJSON.h)
find_library(LAGRAD_CJSON_LIB NAMES cjson)
if(NOT LAGRAD_CJSON_INCLUDE OR NOT LAGRAD_CJSON_LIB)
  message(FATAL_ERROR "cJSON not found: apt-get install libcjson-dev")
endif()
target_include_directories(lagrad_deps INTERFACE ${LAGRAD_CJSON_INCLUDE})
target_link_libraries(lagrad_deps INTERFACE ${LAGRAD_CJSON_LIB})

# zlib reads gzip-compressed IDX files (nn/idx.c).
find_package(ZLIB)
if(NOT ZLIB_FOUND)
  message(FATAL_ERROR "zlib not found: apt-get install zlib1g-dev")
endif()
target_link_libraries(lagrad_deps INTERFACE ZLIB::ZLIB)

if(LAGRAD_BUILD_TESTS)
  find_path(LAGRAD_CMOCKA_INCLUDE cmocka.h)
  find_library(LAGRAD_CMOCKA_LIB NAMES cmocka)
  if(NOT LAGRAD_CMOCKA_INCLUDE OR NOT LAGRAD_CMOCKA_LIB)
    message(FATAL_ERROR "cmocka not found: apt-get install libcmocka-dev "
                        "(or configure with -DLAGRAD_BUILD_TESTS=OFF)")
  endif()
endif()
