/*
 * bcryptprimitives.dll for Wine before 8.13, which has none (Debian 12 ships Wine 8.0): Rust's
 * standard library (1.78 and later) imports ProcessPrng from it, so no Rust program for
 * Windows loads without it. ProcessPrng fills the buffer from the system's generator and
 * never fails; RtlGenRandom (advapi32's SystemFunction036) is that generator in Wine, and
 * takes at most a ULONG's worth of bytes per call.
 *
 * Built by .ci/test-windows: x86_64-w64-mingw32-gcc -shared -o bcryptprimitives.dll
 * bcryptprimitives.c -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > MAXLONG ? MAXLONG : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
