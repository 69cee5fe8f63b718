/* A hot loop: a million calls to target(), of which the demo wants exactly one. */
volatile int sink;

__attribute__((noinline)) int target(int i)
{
    sink = i;
    return i * 2;
}

int main(void)
{
    for (int i = 0; i < 1000000; i++)
        sink += target(i);
    return 0;
}
