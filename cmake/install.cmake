# cmake --install: the command, the static library, the public headers and a
# CMake package, so another project does find_package(mnistlab) and links
# mnistlab::mnistlab (examples/train_mnist, tests/install/).
include(CMakePackageConfigHelpers)

set(MNISTLAB_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/mnistlab)

install(TARGETS mnistlab_lib EXPORT mnistlabTargets)
install(TARGETS mnistlab)
install(DIRECTORY include/mnistlab DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(EXPORT mnistlabTargets NAMESPACE mnistlab:: DESTINATION ${MNISTLAB_CMAKE_DIR})

configure_package_config_file(cmake/mnistlabConfig.cmake.in ${CMAKE_BINARY_DIR}/mnistlabConfig.cmake
  INSTALL_DESTINATION ${MNISTLAB_CMAKE_DIR})
# 0.x: a minor release may change the API, so only the same minor version fits.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/mnistlabConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/mnistlabConfig.cmake ${CMAKE_BINARY_DIR}/mnistlabConfigVersion.cmake
  DESTINATION ${MNISTLAB_CMAKE_DIR})
