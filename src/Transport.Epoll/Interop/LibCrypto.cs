using System.Runtime.InteropServices;

namespace EpollTransport.Interop;

/// <summary>OpenSSL 3's <c>libcrypto.so.3</c>: errors, certificates and keys, the BIO the engine writes records into, randomness and the ticket key callbacks' ciphers.</summary>
internal static unsafe partial class LibCrypto
{
    internal const string Library = "libcrypto.so.3";

    public const int BIO_TYPE_SOURCE_SINK = 0x0400;
    public const int BIO_CTRL_EOF = 2;
    public const int BIO_CTRL_FLUSH = 11;
    public const int BIO_FLAGS_READ = 0x01;
    public const int BIO_FLAGS_SHOULD_RETRY = 0x08;

    [LibraryImport(Library, EntryPoint = "OpenSSL_version_num")]
    internal static partial nuint VersionNumber();

    [LibraryImport(Library, EntryPoint = "ERR_get_error")]
    internal static partial nuint ErrGetError();

    [LibraryImport(Library, EntryPoint = "ERR_error_string_n")]
    internal static partial void ErrErrorStringN(nuint error, byte* buffer, nuint length);

    [LibraryImport(Library, EntryPoint = "ERR_clear_error")]
    internal static partial void ErrClearError();

    [LibraryImport(Library, EntryPoint = "d2i_X509")]
    internal static partial nint D2iX509(nint reuse, byte** input, nint length);

    [LibraryImport(Library, EntryPoint = "i2d_X509")]
    internal static partial int I2dX509(nint x509, byte** output);

    [LibraryImport(Library, EntryPoint = "X509_free")]
    internal static partial void X509Free(nint x509);

    [LibraryImport(Library, EntryPoint = "d2i_AutoPrivateKey")]
    internal static partial nint D2iAutoPrivateKey(nint reuse, byte** input, nint length);

    [LibraryImport(Library, EntryPoint = "EVP_PKEY_free")]
    internal static partial void EvpPkeyFree(nint key);

    [LibraryImport(Library, EntryPoint = "X509_STORE_CTX_get0_cert")]
    internal static partial nint StoreContextGetCertificate(nint storeContext);

    [LibraryImport(Library, EntryPoint = "X509_STORE_CTX_get0_untrusted")]
    internal static partial nint StoreContextGetUntrusted(nint storeContext);

    [LibraryImport(Library, EntryPoint = "X509_STORE_CTX_get_ex_data")]
    internal static partial nint StoreContextGetExData(nint storeContext, int index);

    [LibraryImport(Library, EntryPoint = "OPENSSL_sk_num")]
    internal static partial int StackCount(nint stack);

    [LibraryImport(Library, EntryPoint = "OPENSSL_sk_value")]
    internal static partial nint StackValue(nint stack, int index);

    [LibraryImport(Library, EntryPoint = "BIO_get_new_index")]
    internal static partial int BioGetNewIndex();

    [LibraryImport(Library, EntryPoint = "BIO_meth_new", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint BioMethodNew(int type, string name);

    [LibraryImport(Library, EntryPoint = "BIO_meth_set_write")]
    internal static partial int BioMethodSetWrite(nint method, void* write);

    [LibraryImport(Library, EntryPoint = "BIO_meth_set_ctrl")]
    internal static partial int BioMethodSetCtrl(nint method, void* ctrl);

    [LibraryImport(Library, EntryPoint = "BIO_meth_set_read")]
    internal static partial int BioMethodSetRead(nint method, void* read);

    [LibraryImport(Library, EntryPoint = "BIO_set_flags")]
    internal static partial void BioSetFlags(nint bio, int flags);

    [LibraryImport(Library, EntryPoint = "BIO_clear_flags")]
    internal static partial void BioClearFlags(nint bio, int flags);

    [LibraryImport(Library, EntryPoint = "BIO_new")]
    internal static partial nint BioNew(nint method);

    [LibraryImport(Library, EntryPoint = "BIO_free")]
    internal static partial int BioFree(nint bio);

    [LibraryImport(Library, EntryPoint = "BIO_set_data")]
    internal static partial void BioSetData(nint bio, nint data);

    [LibraryImport(Library, EntryPoint = "BIO_get_data")]
    internal static partial nint BioGetData(nint bio);

    [LibraryImport(Library, EntryPoint = "BIO_set_init")]
    internal static partial void BioSetInit(nint bio, int init);

    [LibraryImport(Library, EntryPoint = "RAND_bytes")]
    internal static partial int RandBytes(byte* buffer, int count);

    [LibraryImport(Library, EntryPoint = "EVP_aes_256_cbc")]
    internal static partial nint EvpAes256Cbc();

    [LibraryImport(Library, EntryPoint = "EVP_sha256")]
    internal static partial nint EvpSha256();

    [LibraryImport(Library, EntryPoint = "EVP_EncryptInit_ex")]
    internal static partial int EvpEncryptInit(nint context, nint cipher, nint engine, byte* key, byte* iv);

    [LibraryImport(Library, EntryPoint = "EVP_DecryptInit_ex")]
    internal static partial int EvpDecryptInit(nint context, nint cipher, nint engine, byte* key, byte* iv);

    [LibraryImport(Library, EntryPoint = "HMAC_Init_ex")]
    internal static partial int HmacInit(nint context, byte* key, int length, nint digest, nint engine);
}
