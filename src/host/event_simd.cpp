// see event_simd.h. The only C++ in pawl: a thin adapter over simdjson
// (docs/decisions/0012-simdjson-event-reader.md). The checks are libpawl's
// own (pawl_api_event_check); this file only finds the members.
#include "event_simd.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <string_view>
#include <vector>

#include <simdjson.h>

using simdjson::dom::element;
using simdjson::dom::element_type;

struct pawl_event_reader {
    simdjson::dom::parser parser;
    std::vector<char> buf; // the line and simdjson's padding
};

extern "C" struct pawl_event_reader *pawl_event_reader_new(void)
{
    return new (std::nothrow) pawl_event_reader();
}

extern "C" void pawl_event_reader_free(struct pawl_event_reader *r)
{
    delete r;
}

namespace {

bool strict_ok(element el);

// An object's keys appear once each (compared unescaped, as jansson does);
// its values are strict_ok.
bool object_ok(simdjson::dom::object obj)
{
    const char *kp[32]; // the first 32 keys; not initialized: objects are small and many
    size_t kn[32];
    std::vector<std::string_view> many;
    size_t k = 0;
    for (auto kv : obj) {
        if (!strict_ok(kv.value))
            return false;
        if (k < 32) {
            for (size_t i = 0; i < k; i++) // lengths first: most keys differ in length
                if (kn[i] == kv.key.size() && std::memcmp(kp[i], kv.key.data(), kn[i]) == 0)
                    return false;
            kp[k] = kv.key.data();
            kn[k] = kv.key.size();
        } else {
            many.push_back(kv.key);
        }
        k++;
    }
    if (k <= 32)
        return true;
    for (size_t i = 0; i < 32; i++)
        many.emplace_back(kp[i], kn[i]);
    std::sort(many.begin(), many.end());
    return std::adjacent_find(many.begin(), many.end()) == many.end();
}

// No duplicate key in any object and no integer beyond int64: what jansson
// (JSON_REJECT_DUPLICATES) refuses and simdjson accepts. (A NUL in a
// string, which jansson also refuses, can only come from a \u0000 escape:
// the raw line is searched for it before parsing.)
bool strict_ok(element el)
{
    simdjson::dom::array arr;
    simdjson::dom::object obj;
    switch (el.type()) {
    case element_type::ARRAY:
        if (el.get(arr) != simdjson::SUCCESS)
            return false;
        for (element c : arr)
            if (!strict_ok(c))
                return false;
        return true;
    case element_type::OBJECT:
        return el.get(obj) == simdjson::SUCCESS && object_ok(obj);
    case element_type::UINT64:
        return false;
    default:
        return true;
    }
}

pawl_str str(simdjson::simdjson_result<element> r)
{
    std::string_view v;
    if (r.get_string().get(v) != simdjson::SUCCESS)
        return pawl_str{"", 0};
    return pawl_str{v.data(), v.size()};
}

bool int64(element el, int64_t *out)
{
    int64_t v = 0;
    *out = 0;
    if (el.type() != element_type::INT64 || el.get(v) != simdjson::SUCCESS)
        return false;
    *out = v;
    return true;
}

bool int64(simdjson::simdjson_result<element> r, int64_t *out)
{
    element el;
    *out = 0;
    return r.get(el) == simdjson::SUCCESS && int64(el, out);
}

// The members pawl reads, in one pass over the top-level object (objects
// are checked for duplicate keys before, so the first match is the only
// one).
void fields(simdjson::dom::object top, struct pawl_api_fields *f)
{
    element req, resp, actor, src;
    bool have_req = false, have_resp = false, have_actor = false, have_src = false;
    f->is_object = true;
    for (auto kv : top) {
        std::string_view k = kv.key;
        if (k == "http_request")
            req = kv.value, have_req = true;
        else if (k == "http_response")
            resp = kv.value, have_resp = true;
        else if (k == "actor")
            actor = kv.value, have_actor = true;
        else if (k == "src_endpoint")
            src = kv.value, have_src = true;
        else if (k == "time")
            f->time_int = int64(kv.value, &f->time);
        else if (k == "class_uid") {
            f->has_class = true;
            f->class_int = int64(kv.value, &f->class_uid);
        }
    }
    if (have_req) {
        f->method = str(req["http_method"]);
        f->path = str(req["url"]["path"]);
    }
    if (have_resp) {
        f->code_int = int64(resp["code"], &f->code);
        f->len_int = int64(resp["length"], &f->len);
    }
    if (have_src) {
        f->src_ip = str(src["ip"]);
        f->country = str(src["location"]["country"]);
    }
    if (!have_actor)
        return;
    f->session = str(actor["session"]["uid"]);
    element user;
    simdjson::dom::array groups;
    if (actor["user"].get(user) != simdjson::SUCCESS)
        return;
    f->principal = str(user["uid"]);
    f->user_type = str(user["type"]);
    if (user["groups"].get(groups) != simdjson::SUCCESS)
        return;
    for (element g : groups) {
        pawl_str name = str(g["name"]);
        if (name.n > 0 && f->nroles < PAWL_DISC_MAX_ROLES)
            f->roles[f->nroles++] = name;
    }
}

} // namespace

extern "C" int pawl_event_reader_read(struct pawl_event_reader *r, const char *line, size_t n,
                                      struct pawl_api_event *e)
{
    element doc;
    simdjson::dom::object top;
    struct pawl_api_fields f = {};
    struct pawl_diag d = {};
    try {
        if (r->buf.size() < n + simdjson::SIMDJSON_PADDING)
            r->buf.resize(n + simdjson::SIMDJSON_PADDING);
        if (std::memchr(line, '\\', n) != nullptr && memmem(line, n, "\\u0000", 6) != nullptr)
            return 0; // a NUL in a string or key
        std::memcpy(r->buf.data(), line, n);
        if (r->parser.parse(r->buf.data(), n, false).get(doc) != simdjson::SUCCESS ||
            doc.get(top) != simdjson::SUCCESS || !object_ok(top))
            return 0;
        fields(top, &f);
    } catch (...) { // out of memory: the strict reader will say so
        return 0;
    }
    return pawl_api_event_check(&f, e, "", 0, &d) == PAWL_OK ? 1 : 0;
}
