package = "moonlet"
version = "scm-1"
source = {
  url = "git+file://./moonlet",
}
description = {
  summary = "Tasks, futures, channels and cooperative I/O for Lua 5.4 on libuv",
  detailed = [[
moonlet brings asyncio/gevent/Go-style concurrency to Lua 5.4, with native
context switching so that a task can block from anywhere: inside table.sort
comparators, gsub callbacks, metamethods, required chunks or C functions.
]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
external_dependencies = {
  LIBUV = { header = "uv.h", library = "uv" },
  CURL = { library = "curl" }, -- curl.h sits in a multiarch directory on Debian
  HTTP_PARSER = { header = "http_parser.h", library = "http_parser" },
}
build = {
  type = "make",
  build_target = "module",
  build_variables = {
    BUILD = "build-rock",
    SKIP_DEPS = "1",
    CHECKS = "", -- the internal state checks are for the test builds
    CC = "$(CC)",
    CFLAGS = "$(CFLAGS)",
    LIBFLAG = "$(LIBFLAG)",
    DEP_CFLAGS = "-I$(LUA_INCDIR) -I$(LIBUV_INCDIR) -I$(CURL_INCDIR) -I$(HTTP_PARSER_INCDIR)",
    -- libcurl is loaded at run time (csrc/http/curl_api.h), not linked.
    DEP_LIBS = "-L$(LIBUV_LIBDIR) -luv -L$(HTTP_PARSER_LIBDIR) -lhttp_parser -ldl",
  },
  install_target = "install-module",
  install_variables = {
    BUILD = "build-rock",
    SKIP_DEPS = "1",
    INST_LIBDIR = "$(LIBDIR)",
    INST_LUADIR = "$(LUADIR)",
  },
}
