#!/usr/bin/env bash
# Builds the FreeSWITCH sipbridge needs from public sources, at pinned versions:
# FreeSWITCH 1.11.1, sofia-sip 1.13.17, spandsp 3.0.0 and mod_audio_stream (with its
# websocket library, libwsc), with only the modules freeswitch/conf loads. Debian 12 or
# Ubuntu 22.04+; the build takes 15-60 minutes depending on the machine.
#
#   sudo scripts/install-freeswitch.sh                 download, build, install into PREFIX
#   PRINT_PLAN=1 scripts/install-freeswitch.sh         print the pinned sources and modules; do nothing
#
# Settings (environment):
#   PREFIX=/usr/local/freeswitch   where FreeSWITCH goes (bin/freeswitch, bin/fs_cli, mod/, lib/)
#   WORK_DIR=/usr/local/src/sipbridge-freeswitch
#                                  where downloaded sources are kept and built
#   SRC_DIR=DIR                    use source trees already on disk instead of downloading, one
#                                  folder per project: DIR/freeswitch, DIR/sofia-sip, DIR/spandsp,
#                                  DIR/mod_audio_stream, DIR/libwsc (mod_audio_stream's submodule,
#                                  unless it is already in mod_audio_stream/libs/libwsc); they are
#                                  built in place
#   NO_APT=1                       do not install the build dependencies with apt-get (install
#                                  them yourself: PRINT_PLAN=1 lists them)
#   JOBS=N                         parallel compile jobs (default: nproc)
#   PRINT_PLAN=1                   print the plan (sources, pinned commits, modules, packages), exit
#
# Running it again is safe and quick: each project is rebuilt only when its pinned commit or
# build options change (a stamp per project under PREFIX/share/sipbridge-build).
set -euo pipefail

PREFIX=${PREFIX:-/usr/local/freeswitch}
WORK_DIR=${WORK_DIR:-/usr/local/src/sipbridge-freeswitch}
SRC_DIR=${SRC_DIR:-}
NO_APT=${NO_APT:-0}
JOBS=${JOBS:-$(nproc)}
PRINT_PLAN=${PRINT_PLAN:-0}

# name, git URL, pinned ref (tag or commit), the commit it must resolve to.
SOURCES=(
  "freeswitch https://github.com/signalwire/freeswitch v1.11.1 c2c59645f6911a76589e5008c4d73349ded44b65"
  "sofia-sip https://github.com/freeswitch/sofia-sip 7333682a297f28130ff46d5ef0f9e2f72adca0e8 7333682a297f28130ff46d5ef0f9e2f72adca0e8"
  "spandsp https://github.com/freeswitch/spandsp 0c7bcebef4f057b99832a338aafab7e379ef1395 0c7bcebef4f057b99832a338aafab7e379ef1395"
  "mod_audio_stream https://github.com/amigniter/mod_audio_stream ec2a781026a1c09b0c3a6161b8b896f0b9305922 ec2a781026a1c09b0c3a6161b8b896f0b9305922"
  "libwsc https://github.com/amigniter/libwsc 09d18e5db9243a996692261a7a0839c9c346bc47 09d18e5db9243a996692261a7a0839c9c346bc47"
)

# The modules freeswitch/conf/autoload_configs/modules.conf.xml loads, with the one the
# xml_curl configuration source adds (config_source/xml_curl.xml: mod_xml_curl, libcurl's) (a test
# keeps them equal), as FreeSWITCH's source tree places them; mod_audio_stream is built on its own.
FS_MODULES=(
  loggers/mod_console loggers/mod_logfile event_handlers/mod_event_socket endpoints/mod_sofia
  endpoints/mod_loopback applications/mod_commands applications/mod_dptools
  dialplans/mod_dialplan_xml formats/mod_sndfile formats/mod_native_file formats/mod_tone_stream
  applications/mod_spandsp codecs/mod_opus xml_int/mod_xml_curl
)
EXTRA_MODULES=(mod_audio_stream)

# Debian/Ubuntu packages the build needs.
APT_PACKAGES=(
  build-essential autoconf automake libtool libtool-bin pkg-config cmake git ca-certificates
  libssl-dev zlib1g-dev libjpeg-dev libsqlite3-dev libcurl4-openssl-dev libpcre2-dev
  libspeex-dev libspeexdsp-dev libedit-dev uuid-dev libtiff-dev libsndfile1-dev libevent-dev
  libopus-dev
)

# FreeSWITCH's default compiler flags (its --enable-optimization fails -Werror with GCC 12); no
# video: libvpx, libyuv, libpng and freetype serve video calls only (and leaving them out keeps
# the result the same whatever other -dev packages the machine has).
FS_CONFIGURE=(--disable-libvpx --disable-libyuv --without-png --without-freetype)

say() { printf '==> %s\n' "$*"; }
die() { printf 'install-freeswitch: %s\n' "$*" >&2; exit 1; }

field() { # field NAME INDEX: one field of NAME's SOURCES line (1 url, 2 ref, 3 commit)
  local line f
  for line in "${SOURCES[@]}"; do
    read -r -a f <<<"$line"
    if [ "${f[0]}" = "$1" ]; then echo "${f[$2]}"; return; fi
  done
  die "no source named $1"
}

print_plan() {
  local line f m
  echo "prefix $PREFIX"
  for line in "${SOURCES[@]}"; do
    read -r -a f <<<"$line"
    echo "source ${f[0]} ${f[1]} ${f[2]} ${f[3]}"
  done
  for m in "${FS_MODULES[@]}" "${EXTRA_MODULES[@]}"; do echo "module ${m##*/}"; done
  echo "apt ${APT_PACKAGES[*]}"
}

install_packages() {
  if [ "$NO_APT" = 1 ]; then say "NO_APT=1: not installing build dependencies"; return; fi
  command -v apt-get >/dev/null || die "apt-get not found: this script supports Debian 12 and Ubuntu 22.04+ (or set NO_APT=1 with the packages PRINT_PLAN=1 lists installed)"
  local missing=() p sudo=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then say "build dependencies already installed"; return; fi
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || die "installing ${missing[*]} needs root (run as root, or NO_APT=1)"
    sudo=(sudo)
  fi
  say "installing build dependencies: ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# fetch_source NAME DIR: a tree of NAME at its pinned commit in DIR (downloaded with git).
fetch_source() {
  local name=$1 dir=$2 url ref commit
  url=$(field "$name" 1) ref=$(field "$name" 2) commit=$(field "$name" 3)
  if [ -d "$dir/.git" ] && [ "$(git -C "$dir" rev-parse HEAD 2>/dev/null)" = "$commit" ]; then
    say "$name: $dir already at $ref"
    return
  fi
  say "$name: downloading $url at $ref"
  mkdir -p "$dir"
  [ -d "$dir/.git" ] || git -C "$dir" init -q
  git -C "$dir" fetch -q --depth 1 "$url" "$ref" 2>/dev/null || git -C "$dir" fetch -q "$url" "$ref" ||
    die "$name: cannot fetch $ref from $url (no internet? use SRC_DIR=)"
  git -C "$dir" -c advice.detachedHead=false checkout -q -f FETCH_HEAD
  [ "$(git -C "$dir" rev-parse HEAD)" = "$commit" ] || die "$name: $ref is $(git -C "$dir" rev-parse HEAD), expected $commit"
}

# source_dir NAME: where NAME's tree is (from SRC_DIR, or downloaded into WORK_DIR).
source_dir() {
  local name=$1 dir commit
  if [ -z "$SRC_DIR" ]; then
    dir="$WORK_DIR/src/$name"
    fetch_source "$name" "$dir" >&2
  else
    dir="$SRC_DIR/$name"
    [ -d "$dir" ] || die "SRC_DIR=$SRC_DIR has no $name folder (expected $dir, the $(field "$name" 1) tree at $(field "$name" 2))"
    commit=$(field "$name" 3)
    if [ -e "$dir/.git" ]; then
      local head
      head=$(git -C "$dir" rev-parse HEAD 2>/dev/null || echo unknown)
      [ "$head" = "$commit" ] || say "WARNING: $dir is at $head, not the pinned $commit; building it anyway" >&2
    fi
  fi
  (cd "$dir" && pwd)
}

stamp_ok() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$STAMPS" && echo "$2" >"$STAMPS/$1"; }

# autotools_build NAME DIR CONFIGURE_ARGS...: bootstrap, configure (once per option set),
# make, make install.
autotools_build() {
  local name=$1 dir=$2; shift 2
  local opts="$*"
  cd "$dir"
  if [ ! -x configure ]; then say "$name: bootstrap"; ./bootstrap.sh -j; fi
  if [ ! -f config.status ] || [ "$(cat .sipbridge-configure 2>/dev/null)" != "$opts" ]; then
    say "$name: configure $opts"
    ./configure "$@"
    # Objects built with other options (an earlier run) are not reused.
    [ ! -f .sipbridge-configure ] || make clean >/dev/null
    echo "$opts" >.sipbridge-configure
  fi
  say "$name: make -j$JOBS"
  make -j"$JOBS"
  say "$name: make install"
  make install
}

build_spandsp() {
  local dir key
  dir=$(source_dir spandsp)
  key="$(field spandsp 3) $PREFIX"
  if stamp_ok spandsp "$key"; then say "spandsp: installed (pinned commit unchanged), skipping"; return; fi
  autotools_build spandsp "$dir" --prefix="$PREFIX" --disable-static
  stamp_set spandsp "$key"
}

build_sofia() {
  local dir key
  dir=$(source_dir sofia-sip)
  key="$(field sofia-sip 3) $PREFIX"
  if stamp_ok sofia-sip "$key"; then say "sofia-sip: installed (pinned commit unchanged), skipping"; return; fi
  autotools_build sofia-sip "$dir" --prefix="$PREFIX" --disable-static --with-glib=no --without-doxygen
  stamp_set sofia-sip "$key"
}

build_freeswitch() {
  local dir key m
  dir=$(source_dir freeswitch)
  key="$(field freeswitch 3) $PREFIX ${FS_CONFIGURE[*]} ${FS_MODULES[*]}"
  if stamp_ok freeswitch "$key"; then say "freeswitch: installed (pinned commit, options and modules unchanged), skipping"; return; fi
  for m in "${FS_MODULES[@]}"; do
    [ -d "$dir/src/mod/$m" ] || die "freeswitch: $dir/src/mod/$m not found (is $dir FreeSWITCH $(field freeswitch 2)?)"
  done
  # bootstrap.sh writes modules.conf only when there is none; ours lists just our modules.
  printf '%s\n' "${FS_MODULES[@]}" >"$dir/modules.conf.sipbridge"
  if ! cmp -s "$dir/modules.conf.sipbridge" "$dir/modules.conf" 2>/dev/null; then
    cp "$dir/modules.conf.sipbridge" "$dir/modules.conf"
    rm -f "$dir/config.status"   # the module list is read at configure time
  fi
  autotools_build freeswitch "$dir" --prefix="$PREFIX" "${FS_CONFIGURE[@]}"
  stamp_set freeswitch "$key"
}

build_audio_stream() {
  local dir wsc key moddir
  dir=$(source_dir mod_audio_stream)
  moddir=$(modules_dir)
  key="$(field mod_audio_stream 3) $(field libwsc 3) $PREFIX $(field freeswitch 3)"
  if stamp_ok mod_audio_stream "$key" && [ -f "$moddir/mod_audio_stream.so" ]; then
    say "mod_audio_stream: installed (pinned commit unchanged), skipping"; return
  fi
  if [ ! -f "$dir/libs/libwsc/CMakeLists.txt" ]; then
    wsc=$(source_dir libwsc)
    say "mod_audio_stream: libs/libwsc from $wsc"
    mkdir -p "$dir/libs/libwsc"
    cp -a "$wsc/." "$dir/libs/libwsc/"
  fi
  say "mod_audio_stream: cmake (websocket client without TLS: ws:// only)"
  PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" cmake -S "$dir" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$dir/build" -j "$JOBS"
  install -m 0755 "$dir/build/mod_audio_stream.so" "$moddir/mod_audio_stream.so"
  stamp_set mod_audio_stream "$key"
}

modules_dir() { PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" pkg-config --variable=modulesdir freeswitch; }

check_install() {
  local moddir m missing=()
  moddir=$(modules_dir)
  [ -x "$PREFIX/bin/freeswitch" ] || die "$PREFIX/bin/freeswitch missing after the build"
  for m in "${FS_MODULES[@]}" "${EXTRA_MODULES[@]}"; do
    [ -f "$moddir/${m##*/}.so" ] || missing+=("${m##*/}")
  done
  [ ${#missing[@]} -eq 0 ] || die "modules missing from $moddir: ${missing[*]}"
  say "$("$PREFIX/bin/freeswitch" -version | tr -d '\r' | tail -n 1)"
  cat <<EOF

FreeSWITCH is installed in $PREFIX with: ${FS_MODULES[*]##*/} ${EXTRA_MODULES[*]}
(modules in $moddir).

Start it on sipbridge's configuration, from the repository root:

  mkdir -p var && cp -r freeswitch/conf var/fs-conf
  sed -i "s#sipbridge_gen_dir=[^\"]*#sipbridge_gen_dir=\$PWD/var/freeswitch#" var/fs-conf/vars.xml
  $PREFIX/bin/freeswitch -nc -nonat -base \$PWD/var/fs -conf \$PWD/var/fs-conf -mod $moddir
  $PREFIX/bin/fs_cli -x 'sofia status'      # the "external" profile RUNNING on 127.0.0.1:5080

(-base keeps its logs, database, certificates and pid file under var/fs, so it runs as you.)

Stop it with: $PREFIX/bin/fs_cli -x 'fsctl shutdown'
EOF
}

main() {
  if [ "$PRINT_PLAN" = 1 ]; then print_plan; return; fi
  STAMPS="$PREFIX/share/sipbridge-build"
  export LDFLAGS="${LDFLAGS:-} -Wl,-rpath,$PREFIX/lib"
  export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  say "FreeSWITCH $(field freeswitch 2) with mod_audio_stream into $PREFIX (jobs: $JOBS)"
  install_packages
  local d
  for d in "$PREFIX" ${SRC_DIR:-"$WORK_DIR/src"}; do
    if ! { mkdir -p "$d" 2>/dev/null && [ -w "$d" ]; }; then
      die "cannot write to $d: run as root (sudo), or choose PREFIX= and WORK_DIR= you can write to"
    fi
  done
  build_spandsp
  build_sofia
  build_freeswitch
  build_audio_stream
  check_install
}

main "$@"
