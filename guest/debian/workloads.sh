# workloads.sh: the workloads of runseq and runpar (sourced, bash).
# Each workload W takes a tag (a name suffix, and its own files) and prints
# "RESULT W.TAG VALUE" lines whose values depend only on the programs and
# their inputs (not on timing, addresses or the number of vCPUs); a failing
# command shows up as "RESULT ... FAILED rc=N". "TIME W.TAG SECONDS"
# lines (the guest's clock) are for people, not compared.
set -u -o pipefail
export LC_ALL=C
H=/opt/hybrid
W=/tmp/hybrid-work
mkdir -p "$W"
LINES=${HYBRID_LINES:-40000}     # ~2.8 MB of generated text

now() { cut -d' ' -f1 /proc/uptime; }
sha() { sha256sum | cut -c1-64; }

# result NAME CMD...: run CMD, print its output (one line) as NAME's result
result() {
    local name=$1 t0 out rc
    shift
    t0=$(now)
    out=$("$@" 2>&1)
    rc=$?
    out=$(printf '%s' "$out" | tr '\n' ' ' | cut -c1-400)
    if [ $rc -eq 0 ]; then
        echo "RESULT $name $out"
    else
        echo "RESULT $name FAILED rc=$rc $out"
    fi
    echo "TIME $name $(echo "$t0 $(now)" | awk '{printf "%.2f", $2 - $1}')"
}

# ASLR is on: two processes map libc at different addresses
libc_at() { grep -m1 'libc\.so' /proc/self/maps | cut -d- -f1; }
aslr() {
    local a b
    a=$(libc_at); b=$(libc_at)
    echo "RESULT aslr.randomize_va_space $(cat /proc/sys/kernel/randomize_va_space)"
    [ -n "$a" ] && [ "$a" != "$b" ] && echo "RESULT aslr.libc-moves yes" ||
        echo "RESULT aslr.libc-moves no ($a $b)"
}

gen() { lua5.4 $H/gen.lua "$LINES" 7 > $W/data.txt && sha < $W/data.txt; }
data() { result gen.sha256 gen; result gen.bytes wc -c < $W/data.txt; }

lua_bench() { result lua.$1 lua5.4 $H/bench.lua 25 100000; }

# coreutils: each a result of its own
coreutils() {
    result sha256sum.$1 sha256sum $W/data.txt
    result sort.$1 eval "sort $W/data.txt | sha"
    result sort-keys.$1 eval "sort -k2,2 -k1,1n $W/data.txt | sha"
    result uniq.$1 eval "cut -d' ' -f2- $W/data.txt | sort | uniq -c | sort -k1,1nr -k2 | sed -n 1,3p | sha"
    result base64.$1 eval "base64 $W/data.txt | base64 -d | cmp - $W/data.txt && base64 $W/data.txt | sha"
    result tr-md5sum.$1 eval "tr a-z A-Z < $W/data.txt | md5sum"
    result wc-cksum.$1 eval "wc -lwc < $W/data.txt; cksum < $W/data.txt"
}

xz_() {
    xz -6 -T1 -c $W/data.txt > $W/data.$1.xz || return
    sha < $W/data.$1.xz
    xz -dc $W/data.$1.xz | sha
    xz -t $W/data.$1.xz && echo tested
}
xzw() { result xz.$1 xz_ $1; }

bzip2_() {
    bzip2 -9 -c $W/data.txt > $W/data.$1.bz2 || return
    sha < $W/data.$1.bz2
    bzip2 -dc $W/data.$1.bz2 | sha
    gzip -9 -n -c $W/data.txt > $W/data.$1.gz || return
    sha < $W/data.$1.gz
    gzip -dc $W/data.$1.gz | sha
}
bzip2w() { result bzip2-gzip.$1 bzip2_ $1; }

# 7-Zip: LZMA2 single-threaded, fixed file time: the archive is the same
# bytes every run (its benchmark rating is not deterministic: not used)
sevenzip_() {
    local d=$W/7z.$1
    rm -rf $d && mkdir -p $d && cp $W/data.txt $d/data.txt &&
        touch -d @946684800 $d/data.txt || return
    (cd $d && 7zz a -t7z -mx=5 -mmt=1 -bd -bso0 -bsp0 a.7z data.txt) || return
    sha < $d/a.7z
    7zz t -bd -bsp0 $d/a.7z | grep -c '^Everything is Ok'
    7zz e -so -bd $d/a.7z data.txt | sha
}
sevenzip() { result 7zz.$1 sevenzip_ $1; }

python() { result python3.$1 python3 $H/prog.py 200000; }

awk_() {
    awk '{ for (i = 2; i < NF; i++) c[$i]++; s += $NF }
         END { for (w in c) print c[w], w; print "sum", s }' $W/data.txt | sort | sha
}
awkw() { result awk.$1 awk_; }

busyboxw() {
    result busybox-sha1sum.$1 busybox sha1sum $W/data.txt
    result busybox-sort.$1 eval "busybox sort $W/data.txt | busybox md5sum"
    result busybox-awk.$1 busybox awk '{ n += NF } END { print n }' $W/data.txt
    result busybox-sed.$1 eval "busybox sed -n 's/^\([0-9]*\) ka.*/\1/p' $W/data.txt | busybox wc -l"
    result busybox-gzip.$1 eval "busybox gzip -c $W/data.txt | busybox gunzip | busybox md5sum"
}

# many short-lived processes: the same binaries and libraries mapped
# again and again, each at its own addresses
many_() {
    local i=0 f=$W/many.$1
    : > $f
    while [ $i -lt ${HYBRID_MANY:-40} ]; do
        echo "$i $(echo $i | sha256sum | cut -c1-16) $(expr $i \* $i + 1) $(busybox printf %x $i) $(seq 1 $((i % 7 + 1)) | paste -sd+)" >> $f
        i=$((i + 1))
    done
    sha < $f
}
many() { result many.$1 many_ $1; }

# run two workloads at once, print their output in a fixed order
par() {
    "$1" "$2" > $W/par.1 2>&1 &
    "$3" "$4" > $W/par.2 2>&1 &
    wait
    cat $W/par.1 $W/par.2
}
