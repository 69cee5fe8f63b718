"""What the kernel matrix (x86-64 guests) and the arch matrix (AArch64 guests) share: the
initramfs archive, a kernel package's module order, the qemu console, and the guest's PID 1."""
