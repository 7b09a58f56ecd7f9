# Sums a callgrind_annotate listing by where the instructions run: prints
# "TOTAL part=instructions ..." (parts: lua_vm, malloc, libcurl, moonlet_c,
# http_parser, libuv, libc_other, other). Used by bench/*_instructions.sh.
/PROGRAM TOTALS/ { gsub(",", "", $1); total = $1; next }
/file:function/ { listing = 1; next }
listing && seen && NF == 0 { listing = 0 } # the annotated sources follow
listing && $1 ~ /^[0-9,]+$/ {
  seen = 1
  n = $1; gsub(",", "", n)
  part = "other"
  if ($0 ~ /malloc\.c|arena\.c/) part = "malloc"
  else if ($0 ~ /libcurl/) part = "libcurl"
  else if ($0 ~ /\/lua5\.4\]$/) part = "lua_vm"
  else if ($0 ~ /moonlet\/core\.so\]$/) part = "moonlet_c"
  else if ($0 ~ /libhttp_parser/) part = "http_parser"
  else if ($0 ~ /libuv/) part = "libuv"
  else if ($0 ~ /libc\.so/) part = "libc_other"
  sum[part] += n
}
END {
  printf "%s", total
  for (p in sum) printf " %s=%s", p, sum[p]
  print ""
}
