# Install rules: the headers under include/lagrad/, both libraries, a CMake package
# (find_package(lagrad) gives lagrad::lagrad and lagrad::lagrad_static) and lagrad.pc;
# with the MPI module also lagrad::lagrad_dist and lagrad-dist.pc (at the end).
# The build-tree-only target lagrad_deps is not exported: lagradConfig.cmake finds the same
# libraries again and wraps them in lagrad::deps, which the static library links.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(LAGRAD_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/lagrad")

# The shared library hides its dependencies (they are in its DT_NEEDED); the static one
# passes them on. lagrad::deps is defined by lagradConfig.cmake before the targets load.
target_link_libraries(lagrad_static PUBLIC $<INSTALL_INTERFACE:lagrad::deps>)

# Keep the installed shared library on the OpenBLAS it was built against (the OpenMP build,
# see DESIGN.md "Threads") whatever the system's libopenblas.so.0 alternative points to.
get_filename_component(_lagrad_openblas_libdir "${LAGRAD_OPENBLAS_LIB}" DIRECTORY)
if(NOT _lagrad_openblas_libdir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
  set_target_properties(lagrad PROPERTIES INSTALL_RPATH "${_lagrad_openblas_libdir}")
endif()

install(TARGETS lagrad lagrad_static EXPORT lagradTargets
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/lagrad
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h" PATTERN "*_impl.h" EXCLUDE)

install(EXPORT lagradTargets NAMESPACE lagrad:: DESTINATION ${LAGRAD_INSTALL_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/lagradConfig.cmake.in
  ${PROJECT_BINARY_DIR}/lagradConfig.cmake
  INSTALL_DESTINATION ${LAGRAD_INSTALL_CMAKEDIR})
# 0.x: a new minor version may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/lagradConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/lagradConfig.cmake
  ${PROJECT_BINARY_DIR}/lagradConfigVersion.cmake
  DESTINATION ${LAGRAD_INSTALL_CMAKEDIR})

# lagrad.pc finds its prefix from its own location (${pcfiledir}), so an install moved
# with `cmake --install --prefix` or DESTDIR still works.
set(LAGRAD_PC_DIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
if(IS_ABSOLUTE "${LAGRAD_PC_DIR}")
  set(LAGRAD_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _lagrad_up "/prefix/${LAGRAD_PC_DIR}" "/prefix")
  string(REGEX REPLACE "/$" "" _lagrad_up "${_lagrad_up}")
  set(LAGRAD_PC_PREFIX "\${pcfiledir}/${_lagrad_up}")
endif()
foreach(d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${d}}")
    set(LAGRAD_PC_${d} "${CMAKE_INSTALL_${d}}")
  else()
    set(LAGRAD_PC_${d} "\${prefix}/${CMAKE_INSTALL_${d}}")
  endif()
endforeach()
# Static linking needs the dependencies, from the directories they were found in.
set(LAGRAD_PC_LIBS_PRIVATE "")
foreach(lib "${LAGRAD_OPENBLAS_LIB}" "${LAGRAD_LAPACKE_LIB}")
  get_filename_component(_lagrad_dir "${lib}" DIRECTORY)
  get_filename_component(_lagrad_name "${lib}" NAME_WE)
  string(REGEX REPLACE "^lib" "" _lagrad_name "${_lagrad_name}")
  if(NOT _lagrad_dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
    string(APPEND LAGRAD_PC_LIBS_PRIVATE "-L${_lagrad_dir} -Wl,-rpath,${_lagrad_dir} ")
  endif()
  string(APPEND LAGRAD_PC_LIBS_PRIVATE "-l${_lagrad_name} ")
endforeach()
string(APPEND LAGRAD_PC_LIBS_PRIVATE "-lgomp -lm")
configure_file(${PROJECT_SOURCE_DIR}/cmake/lagrad.pc.in ${PROJECT_BINARY_DIR}/lagrad.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/lagrad.pc DESTINATION ${LAGRAD_PC_DIR})

# MIT: the licence travels with every install.
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/lagrad)

# The MPI module, when it is built: an export set of its own (lagradConfig.cmake loads it
# only where MPI is found, so a consumer of lagrad alone needs no MPI), and lagrad-dist.pc
# with FindMPI's flags, since a program that includes lagrad/dist.h includes <mpi.h>.
if(TARGET lagrad_dist)
  # liblagrad_dist finds liblagrad beside itself
  set_target_properties(lagrad_dist PROPERTIES INSTALL_RPATH "$ORIGIN")
  install(TARGETS lagrad_dist EXPORT lagradDistTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT lagradDistTargets NAMESPACE lagrad:: DESTINATION ${LAGRAD_INSTALL_CMAKEDIR})
  set(LAGRAD_DIST_PC_CFLAGS "")
  foreach(d ${MPI_C_INCLUDE_DIRS})
    string(APPEND LAGRAD_DIST_PC_CFLAGS "-I${d} ")
  endforeach()
  set(LAGRAD_DIST_PC_LIBS "")
  foreach(l ${MPI_C_LIBRARIES})
    string(APPEND LAGRAD_DIST_PC_LIBS "${l} ")
  endforeach()
  configure_file(${PROJECT_SOURCE_DIR}/cmake/lagrad-dist.pc.in
                 ${PROJECT_BINARY_DIR}/lagrad-dist.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/lagrad-dist.pc DESTINATION ${LAGRAD_PC_DIR})
endif()
