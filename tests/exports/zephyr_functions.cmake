# The Zephyr build functions a module's CMakeLists uses, as Zephyr documents them,
# so that the exported module's CMakeLists runs under plain CMake: a named library
# linked to zephyr_interface (which carries the include directories every Zephyr
# library gets), its sources, and global include directories. Not a part of tinyflow.
add_library(zephyr_interface INTERFACE)

macro(zephyr_library_named name)
  set(ZEPHYR_CURRENT_LIBRARY ${name})
  add_library(${name} STATIC "")
  target_link_libraries(${name} PUBLIC zephyr_interface)
endmacro()

function(zephyr_library_sources)
  target_sources(${ZEPHYR_CURRENT_LIBRARY} PRIVATE ${ARGN})
endfunction()

function(zephyr_include_directories)
  foreach(dir ${ARGN})
    get_filename_component(path ${dir} ABSOLUTE)
    target_include_directories(zephyr_interface INTERFACE ${path})
  endforeach()
endfunction()
