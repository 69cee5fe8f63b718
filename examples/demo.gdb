hbreak-if target i == 500000
run
info hbreak-if
continue
