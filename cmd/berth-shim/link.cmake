# berth-shim: one per container, so its idle RSS matters. A static-pie binary (as berth-runtime)
# skips the dynamic loader and maps no shared libraries' pages.
target_link_libraries(berth-shim PRIVATE berth_shim_server)
if(BERTH_FUZZ)
  target_link_options(berth-shim PRIVATE -static-libstdc++ -static-libgcc)
else()
  target_link_options(berth-shim PRIVATE -static-pie)
  add_custom_command(TARGET berth-shim POST_BUILD
    COMMAND ${CMAKE_OBJCOPY} --only-keep-debug $<TARGET_FILE:berth-shim> $<TARGET_FILE:berth-shim>.debug
    COMMAND ${CMAKE_OBJCOPY} --strip-debug --add-gnu-debuglink=$<TARGET_FILE:berth-shim>.debug $<TARGET_FILE:berth-shim>)
endif()
