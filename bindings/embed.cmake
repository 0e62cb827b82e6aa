# Turn each Lua file given in FILES into a C array in OUT. With INDEX, the
# arrays are named lua_<PREFIX><name> and an array INDEX of
# { name, src, len } (ending with { 0 }) lists them.
string(REPLACE "|" ";" FILES "${FILES}")
file(WRITE ${OUT} "/* generated from the files in bindings/lua: do not edit */\n")
set(index "")
foreach(f ${FILES})
  get_filename_component(name ${f} NAME_WE)
  file(READ ${f} hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR len "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
  file(APPEND ${OUT} "static const char lua_${PREFIX}${name}[] = {${body}0};\nstatic const unsigned lua_${PREFIX}${name}_len = ${len};\n")
  string(APPEND index "    { \"${name}\", lua_${PREFIX}${name}, ${len} },\n")
endforeach()
if(INDEX)
  file(APPEND ${OUT} "static const struct { const char *name; const char *src; unsigned len; } ${INDEX}[] = {\n${index}    { 0, 0, 0 },\n};\n")
endif()
