/* Runs a little, then dlopens the library at argv[1] (built from lib.c) and calls lib_target(i)
 * N times (argv[2], default 1000): exercises pending breakpoints and arming on library load. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

volatile long sink;

__attribute__((noinline)) int before_load(int i)
{
    sink += i;
    return i;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s LIBRARY [N]\n", argv[0]);
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 1000;
    sink += before_load(1);

    void *lib = dlopen(argv[1], RTLD_NOW);
    if (!lib) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    int (*lib_target)(int) = (int (*)(int))dlsym(lib, "lib_target");
    if (!lib_target)
        return 1;
    for (int i = 0; i < n; i++)
        sink += lib_target(i);
    dlclose(lib);
    return 0;
}
