/* Fixture keys for the fuzz drivers only: fixed so that the seed corpus in
 * fuzz/corpus/ holds tokens that really verify and the fuzzer reaches the
 * claim checks. Generated with `openssl genpkey`; they protect nothing.
 * Never use them outside fuzz/. */
#ifndef PAWL_FUZZ_KEYS_H
#define PAWL_FUZZ_KEYS_H

static const char fuzz_rsa_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCN2ib+tuKUavXM\n"
    "zYCMq29nEf0Hm5TZbFme35yhfW6GIuWKc1r7ZM4yjBDwW8R5dFBpNbACiJKNRqwI\n"
    "ivCQOTpaMfY9mUJ7Qv2wrxF7k606kWA2FydWMdbE2zVMvM8yvC1OIEwQY0Mt5PsL\n"
    "C423HF2KCDTXUTM78YvdXNoFq/9zqL3T/Dkz2105I9+5AQK90jhTA2NexHr3LulH\n"
    "9nAHGjnTf8Z0qZtwspLAxtVV1J1vHxV1gbOEksTUrkuaKlmL44hWqawftRvhXJus\n"
    "n6ysft9erCNhY8BRGimeudmR2q60+XkxZXMDq1lLlRuVSeiwZLiAMQnl4Ex+d25N\n"
    "8tnNBNX7AgMBAAECggEAPdCV86Ogw0qFCJV48lP2vPSizgDncYP83fXV3K27Tyq/\n"
    "2oCAYlLAZFiTPRrQWJjuPZrOs5vuOTBV4Xcic8bsfceN5bP2u54qzSbNOIvXDlGx\n"
    "moCmfLJFRA2+gU06AYLtP0FlxDJtYP+KwnprbCMpQ/BljnrtF68f4vwGajhUnoKA\n"
    "0OwyM8YALmLYwzoyuO9Z+S2V0UZfBBpSE3mT37hkTPzErJj+MBrxGMQ26/u5/2LM\n"
    "3Sa6wqPyKkkDH4G2S8lM9/AZBP2XenYBEsYX7I8/ZrSU+RiPxaDOKl0UN79ITE9k\n"
    "z1FNOzspFhT5sajQOGZB+wGtWuVamibp87fT4w33qQKBgQDG+nPhRmhk503GR7kH\n"
    "Z4+mRxJXCUYgZV4Gb/BvTqdj+jUZL53AEgiX8SHeZdWd0MW2uTj/A2onRt8pC8+R\n"
    "0RIkeugZZ/hzXnK/p+cyjhVSSlxmENOczj1peNNI8Cce/KNcvFr+8NlfJ1FZ0fyZ\n"
    "kGlm/f8x9HkMAVVtC1aqJ/j99QKBgQC2gMfqEPZWGwD/0GXAWCaYUQ6losUIEhGD\n"
    "o92ZcdsBL5Pcc9Bf2Kui4LxarVEZWleA2j64WMLQblOJfirTOdlVk6iuRZ77yRi1\n"
    "flv2nM+K7a1ezV8gE4jSzOek9pyogkchpBLLO9OYw7/0JvnbM64ZluLuW0dPH0/h\n"
    "mBLqn62eLwKBgQC4pp93BTHHwecpBFIvDun98qKQZqjPU4KIEsVbZfBtFTrFXqzU\n"
    "G2giKMG3c2VjiOSSBx1fejm+rURXAQDlXtGpTO2q9hNYbOOr/BLPlY8vyJYqmZ7n\n"
    "O3U+NcRNQZ/sX6LyYlFHmRb/+KrD4dy6XYuS6k8yep8ChxJRmV4ZlfK5KQKBgCB2\n"
    "5BkFD2zdvN3EqnT+uU7bDGn2fGolHKx4F9FV6Ylad0j96RFDr7R3mcnfjs+dvHcV\n"
    "W5bbYzxEg+OvZ9rPLZQFgjoN9GwBp72RTradymWCRhbZHZTNJMeq34H+xHtNQW4A\n"
    "i79PUyKXn6vEyyltFglDR/bykcrHXSRaMvM9mFrNAoGAU6p9THzJa5FFtOHXmTeR\n"
    "Uz0AHEJHLbkb+JingYnIEihX4b+XiiPTpNj3moYXSaY+1KMLGOjiRJWZdhNyd9z9\n"
    "ZnLg0Aw9QddyGQfIX56FGp9gIyaacjHcoWW7f3HW8ofeJh4I7k6bDAzNGDWM4fXD\n"
    "C1pTBXcumgt23hckHdJZOVI=\n"
    "-----END PRIVATE KEY-----\n";

static const char fuzz_ec_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg44y/qyXymFcHy9hs\n"
    "oeLouzwWlj7aib14k7VeEoyuQGuhRANCAAQTVDxcJwOLwUZJOhNVjL56atvLv4Bq\n"
    "KdUQDvCvEFEARXNx/bK5+uIJRci4NA3zlBQjCcipynhvF1sU+sSHGWay\n"
    "-----END PRIVATE KEY-----\n";

static const char fuzz_ed_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ3N/5nvfgGwohucH41EsbScYxT8mAXWnBlxoTro8/m4\n"
    "-----END PRIVATE KEY-----\n";

#endif
