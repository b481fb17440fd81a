# hybrid: everything starts here.
#
#   make run     set up, build, boot the bundled guest under -accel hybrid
#                (GUEST=debian: the Debian userland, systemd, -m 2G)
#   make run-gui the same in a window (SDL, VGA console; the shell is on
#                the window, kernel messages also on the terminal)
#   make install PREFIX=DIR   the emulator, firmware and keymaps into DIR
#                (runs from there, from any directory, without -L)
#   make check   set up, build, run every test (what CI runs)
#   make build   set up and build only
#   make bench   tcg vs hybrid (and native) on the bundled guest's and the
#                Debian userland's workloads: table, build/bench/results.json
#                and results.svg (QUICK=1: one run)
#   make check SANITIZE=1   the same tests on a build with AddressSanitizer
#                and UndefinedBehaviorSanitizer (build/qemu-build-san)
#   make check TESTS='guest-smc unit-lower'   only those tests
#   make clean   remove build/
#
# Set-up (packages, QEMU source, guest) is done by scripts/ and is
# idempotent, so a second run rebuilds only what changed.

TOP       := $(CURDIR)
space     := $(subst ,, )
BUILD     := $(TOP)/build
QEMU_SRC  := $(BUILD)/qemu-10.0.2
QEMU_BLD  := $(BUILD)/qemu-build
GUEST_DIR := $(BUILD)/guest
QEMU      := $(BUILD)/qemu-system-x86_64
JOBS      ?= $(shell nproc)
ACCEL     ?= hybrid
# extra arguments for `make run`, e.g. RUN_ARGS="-smp 4"
RUN_ARGS  ?=
# the guest `make run` boots: busybox (the bundled initramfs) or debian
# (scripts/build-debian.sh: Debian bookworm with systemd, autologin root
# shell on the serial console)
GUEST     ?= busybox
ifeq ($(GUEST),debian)
RUN_INITRD := $(GUEST_DIR)/debian/initrd-debian.gz
RUN_MEM    := 2G
else ifeq ($(GUEST),busybox)
RUN_INITRD := $(GUEST_DIR)/initrd.gz
RUN_MEM    := 1G
else
$(error GUEST=$(GUEST): expected busybox or debian)
endif

FIRMWARE_DIRS := /usr/share/qemu /usr/share/seabios /usr/lib/ipxe/qemu
CONFIGURE_ARGS := --python=/usr/bin/python3 --target-list=x86_64-softmmu \
	--disable-docs --disable-werror --disable-download \
	--disable-install-blobs --disable-tools --disable-guest-agent \
	--enable-sdl --enable-slirp --enable-fdt=system \
	--firmwarepath=$(subst $(space),:,$(FIRMWARE_DIRS))

# SANITIZE=1: a separate build with ASan and UBSan; a report fails the
# test that caused it (UBSan halts; leaks are not checked: LLVM's and
# QEMU's own allocations at exit would drown ours)
SANITIZE  ?=
ifeq ($(SANITIZE),1)
QEMU_BLD  := $(BUILD)/qemu-build-san
CONFIGURE_ARGS += --enable-asan --enable-ubsan
export ASAN_OPTIONS ?= detect_leaks=0
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
endif

.PHONY: all setup source build guest run run-gui install check check-loongarch64 bench clean

all: build

setup:
	@$(TOP)/scripts/setup-host.sh

source: setup
	@$(TOP)/scripts/get-qemu.sh

$(QEMU_BLD)/build.ninja: | source
	mkdir -p $(QEMU_BLD)
	cd $(QEMU_BLD) && $(QEMU_SRC)/configure $(CONFIGURE_ARGS)

build: source $(QEMU_BLD)/build.ninja
	ninja -C $(QEMU_BLD) -j $(JOBS) qemu-system-x86_64 \
		qemu-system-x86_64-hybrid-selftest \
		hybrid/tests/test-hybrid-params hybrid/tests/test-hybrid-record \
		hybrid/tests/test-hybrid-lower hybrid/tcg-host/test-tcg-host
	$(if $(SANITIZE),,ln -sfn qemu-build/qemu-system-x86_64 $(QEMU))
	@# the emulator to name in a libvirt domain (docs/libvirt.md)
	$(if $(SANITIZE),,ln -sfn ../scripts/libvirt-emulator $(QEMU)-hybrid)
	@# run from the build tree, QEMU looks for firmware under qemu-bundle/:
	@# point the configured firmware path there at Debian's packages
	@for d in $(FIRMWARE_DIRS); do \
		mkdir -p $(QEMU_BLD)/qemu-bundle$$(dirname $$d); \
		ln -sfn $$d $(QEMU_BLD)/qemu-bundle$$d; \
	done

guest: source
	@$(TOP)/scripts/build-tcg-tests.sh $(QEMU_SRC) $(GUEST_DIR)/tcg-tests
	@$(TOP)/scripts/build-guest.sh $(GUEST_DIR)
	@$(TOP)/scripts/build-system-tests.sh $(QEMU_SRC) $(GUEST_DIR)/system
	@$(TOP)/scripts/build-debian.sh $(GUEST_DIR)/debian

run: build guest
	$(QEMU) -accel $(ACCEL) -M q35 -nodefaults -m $(RUN_MEM) -nographic \
		-serial mon:stdio -no-reboot -net none \
		-kernel $(GUEST_DIR)/vmlinuz -initrd $(RUN_INITRD) \
		-append "console=ttyS0 panic=-1 quiet" $(RUN_ARGS)

# the window: SDL with a standard VGA; console=tty0 last, so the guest's
# shell is on the window (kernel messages go to both)
run-gui: build guest
	$(QEMU) -accel $(ACCEL) -M q35 -nodefaults -m $(RUN_MEM) \
		-display sdl -device VGA -serial stdio -no-reboot -net none \
		-kernel $(GUEST_DIR)/vmlinuz -initrd $(RUN_INITRD) \
		-append "console=ttyS0 console=tty0 panic=-1" $(RUN_ARGS)

PREFIX    ?= /usr/local
install: build
	$(TOP)/scripts/install.sh $(QEMU_BLD) $(PREFIX)

check: build guest
	cd $(QEMU_BLD) && meson test --no-rebuild --suite hybrid --print-errorlogs \
		$(TESTS) || { $(TOP)/scripts/test-failures.sh meson-logs/testlog.txt; exit 1; }

# the loongarch64 host layer, cross-built and run under qemu-loongarch64
# (also part of `make check`)
check-loongarch64: setup
	$(TOP)/scripts/check-loongarch64.sh $(BUILD)/la64

# QUICK=1: one run instead of three; BENCH_ARGS: more of bench.py's options
# (--runs N, --only boot,lua,..., --hybrid-opts threads=2, --no-native)
bench: build guest
	$(TOP)/tests/bench/bench.py $(if $(QUICK),--quick) $(BENCH_ARGS)

clean:
	rm -rf $(BUILD)
