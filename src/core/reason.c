/* see pawl/reason.h */
#include "pawl/reason.h"

static const char *const names[] = {
#define PAWL_R_NAME(id, name, status) name,
    PAWL_REASONS(PAWL_R_NAME)
#undef PAWL_R_NAME
};
static const int statuses[] = {
#define PAWL_R_STATUS(id, name, status) status,
    PAWL_REASONS(PAWL_R_STATUS)
#undef PAWL_R_STATUS
};

const char *pawl_reason_name(enum pawl_reason r)
{
    return (unsigned)r < PAWL_R__COUNT ? names[r] : "unknown";
}

int pawl_reason_status(enum pawl_reason r)
{
    return (unsigned)r < PAWL_R__COUNT ? statuses[r] : 500;
}
