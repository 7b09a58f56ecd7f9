# Given two callgrind_parts.awk lines on one line (a short run, then a
# longer one), prints per unit of work the instructions in total and in
# each of parts: awk -v prefix=P -v d=UNITS -v parts="a b ..." -f this.
{
  for (i = 2; i <= NF; i++) if ($i !~ /=/) { second = i; break }
  for (i = 2; i < second; i++) { split($i, kv, "="); a[kv[1]] = kv[2] }
  for (i = second + 1; i <= NF; i++) { split($i, kv, "="); b[kv[1]] = kv[2] }
  printf "RESULT %s_instructions_per_request %d\n", prefix, ($second - $1) / d
  n = split(parts, order, " ")
  for (j = 1; j <= n; j++)
    printf "RESULT %s_%s_per_request %d\n", prefix, order[j], (b[order[j]] - a[order[j]]) / d
}
