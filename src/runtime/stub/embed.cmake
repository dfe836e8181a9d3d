# Turns a binary into a C++ source holding its bytes: cmake -DIN=... -DOUT=... -P embed.cmake
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR size "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "// Generated from ${IN}: do not edit.\n#include <cstddef>\nnamespace berth::runtime {\nextern const unsigned char kExecStub[] = {${bytes}};\nextern const size_t kExecStubSize = ${size};\n}\n")
