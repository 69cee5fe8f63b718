/* The shared library shlib.c loads with dlopen: lib_target is unknown until then, so a
 * breakpoint on it stays pending until the library is loaded. Build with build_shared("lib"). */
volatile long lib_sink;

__attribute__((noinline)) int lib_target(int i)
{
    lib_sink += i;
    return i;
}
