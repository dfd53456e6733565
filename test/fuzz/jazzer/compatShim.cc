// Loaded before Jazzer.js's linux-x64 prebuild (see compat.ts): that binary is linked against
// glibc 2.38 and GCC 13's libstdc++, Debian 12 has glibc 2.36 and GCC 12. It needs three symbols
// those do not have; each is defined here under the version the prebuild asks for.
#include <cstdlib>
#include <ios>

// glibc 2.38 maps strtol/strtoul to C23 variants (which also accept a 0b prefix; libFuzzer's flag
// parsing never passes one).
extern "C" long compat_isoc23_strtol(const char* s, char** end, int base) { return strtol(s, end, base); }
extern "C" unsigned long compat_isoc23_strtoul(const char* s, char** end, int base) { return strtoul(s, end, base); }
__asm__(".symver compat_isoc23_strtol,__isoc23_strtol@@GLIBC_2.38");
__asm__(".symver compat_isoc23_strtoul,__isoc23_strtoul@@GLIBC_2.38");

// GCC 13 objects call std::ios_base_library_init() instead of holding a static ios_base::Init;
// GCC 12's libstdc++ initialises the standard streams through such an object, held here.
static std::ios_base::Init compat_ios_init;
extern "C" void compat_ios_base_library_init() {}
__asm__(".symver compat_ios_base_library_init,_ZSt21ios_base_library_initv@@GLIBCXX_3.4.32");

// An empty Node-API module, so that process.dlopen keeps this library loaded (RTLD_GLOBAL).
extern "C" void* napi_register_module_v1(void*, void* exports) { return exports; }
