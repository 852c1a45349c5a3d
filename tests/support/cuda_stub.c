/* Stand-in libcuda.so.1 for machines without an NVIDIA driver.
 *
 * sgl_kernel's prebuilt CUDA extension lists libcuda.so.1 as NEEDED and imports one symbol from it
 * (cuPointerGetAttribute), so the dynamic linker refuses to load it without a driver. SGLang imports that
 * extension even on its CPU engine, where none of its ops run. Every entry point here answers
 * CUDA_ERROR_NO_DEVICE, so anything that does call it learns there is no GPU.
 */
#define CUDA_ERROR_NO_DEVICE 100

int cuInit(unsigned int flags) { (void)flags; return CUDA_ERROR_NO_DEVICE; }

int cuDriverGetVersion(int *version)
{
    if (version) *version = 0;
    return CUDA_ERROR_NO_DEVICE;
}

int cuDeviceGetCount(int *count)
{
    if (count) *count = 0;
    return CUDA_ERROR_NO_DEVICE;
}

int cuPointerGetAttribute(void *data, int attribute, unsigned long long pointer)
{
    (void)data; (void)attribute; (void)pointer;
    return CUDA_ERROR_NO_DEVICE;
}
