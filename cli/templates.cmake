# cli/templates.cmake - compile the shipped conf/main.cf and conf/master.cf into the
# posthorn binary, so `posthorn init` works the same from the build tree and installed.
# Included from the top-level CMakeLists.txt after the posthorn target is defined.
set(POSTHORN_TEMPLATES_C ${CMAKE_BINARY_DIR}/gen/conf_templates.c)
add_custom_command(
  OUTPUT ${POSTHORN_TEMPLATES_C}
  COMMAND ${CMAKE_COMMAND} -DSRC=${CMAKE_SOURCE_DIR}/conf -DOUT=${POSTHORN_TEMPLATES_C}
          -P ${CMAKE_SOURCE_DIR}/cli/embed_templates.cmake
  DEPENDS ${CMAKE_SOURCE_DIR}/conf/main.cf ${CMAKE_SOURCE_DIR}/conf/master.cf
          ${CMAKE_SOURCE_DIR}/cli/embed_templates.cmake
  COMMENT "Embedding conf/main.cf and conf/master.cf")
target_sources(posthorn PRIVATE ${POSTHORN_TEMPLATES_C})
