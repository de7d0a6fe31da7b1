/* see pawl/edge_token.h */
#include "pawl/edge_token.h"

const char *pawl_edge_reason_str(enum pawl_edge_reason r)
{
    switch (r) {
    case PAWL_EDGE_OK: return "ok";
    case PAWL_EDGE_MALFORMED: return "malformed";
    case PAWL_EDGE_UNSUPPORTED_ALG: return "unsupported_alg";
    case PAWL_EDGE_UNKNOWN_KEY: return "unknown_key";
    case PAWL_EDGE_DUPLICATE_SIGNER: return "duplicate_signer";
    case PAWL_EDGE_BAD_SIGNATURE: return "bad_signature";
    case PAWL_EDGE_MISSING_SIGNER: return "missing_signer";
    case PAWL_EDGE_WRONG_VEHICLE: return "wrong_vehicle";
    case PAWL_EDGE_EXPIRED: return "expired";
    case PAWL_EDGE_NOT_YET_VALID: return "not_yet_valid";
    case PAWL_EDGE_LIFETIME_TOO_LONG: return "lifetime_too_long";
    case PAWL_EDGE_REPLAY: return "replay";
    case PAWL_EDGE_STALE_SEQUENCE: return "stale_sequence";
    case PAWL_EDGE_UNSAFE_STATE: return "unsafe_state";
    case PAWL_EDGE_STORE_ERROR: return "store_error";
    }
    return "store_error";
}
