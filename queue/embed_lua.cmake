# Turns a Lua file into a C translation unit holding its text as a byte array,
# so the script ships inside the binary. Invoked by lg_embed_lua().
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "/* Generated from ${NAME}.lua; do not edit. */\n#include <stddef.h>\n"
  "const char lg_lua_${NAME}[] = {${bytes} 0x00};\n"
  "const size_t lg_lua_${NAME}_len = sizeof(lg_lua_${NAME}) - 1;\n")
