#include "CRE2.h"

#include <re2/re2.h>

#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <vector>

struct cre2_program {
    re2::RE2 regex;
    cre2_program(const char *pattern, size_t length, const re2::RE2::Options &options)
        : regex(re2::StringPiece(pattern != nullptr ? pattern : "", length), options) {}
};

extern "C" cre2_program *cre2_compile(const char *pattern, size_t length, int *error_code, char *message,
                                      size_t message_capacity) {
    re2::RE2::Options options;  // UTF-8, Perl syntax, leftmost-first, case-sensitive
    options.set_log_errors(false);
    auto *program = new (std::nothrow) cre2_program(pattern, length, options);
    if (program == nullptr) {
        *error_code = -1;
        std::snprintf(message, message_capacity, "out of memory");
        return nullptr;
    }
    if (!program->regex.ok()) {
        *error_code = static_cast<int>(program->regex.error_code());
        std::snprintf(message, message_capacity, "%s", program->regex.error().c_str());
        delete program;
        return nullptr;
    }
    *error_code = 0;
    return program;
}

extern "C" void cre2_free(cre2_program *program) { delete program; }

extern "C" int cre2_capture_count(const cre2_program *program) { return program->regex.NumberOfCapturingGroups(); }

extern "C" int cre2_match(const cre2_program *program, const char *text, size_t length, size_t start, int anchor_both,
                          int64_t *offsets, int groups) {
    // A NULL text would make an empty group indistinguishable from one that did not take part.
    static const char empty[1] = {0};
    if (text == nullptr) text = empty;
    re2::StringPiece input(text, length);
    re2::StringPiece stack[16];
    std::vector<re2::StringPiece> heap;
    re2::StringPiece *submatch = stack;
    if (groups > 16) {
        heap.resize(groups);
        submatch = heap.data();
    }
    bool matched = program->regex.Match(input, start, length, anchor_both ? re2::RE2::ANCHOR_BOTH : re2::RE2::UNANCHORED,
                                        submatch, groups);
    if (!matched) return 0;
    for (int i = 0; i < groups; i++) {
        if (submatch[i].data() == nullptr) {
            offsets[2 * i] = -1;
            offsets[2 * i + 1] = -1;
        } else {
            offsets[2 * i] = submatch[i].data() - text;
            offsets[2 * i + 1] = offsets[2 * i] + static_cast<int64_t>(submatch[i].size());
        }
    }
    return 1;
}
