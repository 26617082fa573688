# Turns a Lua file into a C translation unit holding its text as a byte array,
# so the script ships inside the binary. Invoked by lg_embed_lua().
#
# A line "-- needs: <name>" in the script prepends queue/lua/lib/<name>.lua:
# Redis runs each script alone, with no require, so what several scripts
# share (the order record's layout) is written once and joined here.
file(READ ${IN} text)
get_filename_component(dir ${IN} DIRECTORY)
string(REGEX MATCHALL "\n-- needs: [a-z_]+" needs "\n${text}")
set(prefix "")
foreach(line ${needs})
  string(REGEX REPLACE "\n-- needs: " "" lib "${line}")
  file(READ ${dir}/lib/${lib}.lua lib_text)
  string(APPEND prefix "${lib_text}\n")
endforeach()
string(HEX "${prefix}${text}" hex)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "/* Generated from ${NAME}.lua; do not edit. */\n#include <stddef.h>\n"
  "const char lg_lua_${NAME}[] = {${bytes} 0x00};\n"
  "const size_t lg_lua_${NAME}_len = sizeof(lg_lua_${NAME}) - 1;\n")
