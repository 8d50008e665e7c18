/*
 * A firmware-style use of Retort's C ABI: open a model (from its file, or from a read-only
 * memory region the program mapped itself), apply the chat template to a prompt, stream the
 * reply to stdout through the per-piece callback, print timings to stderr, free everything.
 *
 *   make -C examples/c              # builds ../../target/release/libretort.a first
 *   examples/c/retort-example [options] [PROMPT]
 *
 * Options: -m MODEL.gguf (default: the catalog's default model in the cache: $RETORT_HOME,
 * else $XDG_CACHE_HOME/retort, else ~/.cache/retort), -n MAX_TOKENS (64), -t THREADS (0: one
 * per core), -c CONTEXT (2048), --temp T (0: greedy), --seed S (0), --memory (map the file
 * and open it with retort_model_open_memory, as firmware that maps flash would).
 *
 * Exit status: 0 on success, 1 on a Retort error (its name and message on stderr), 2 on a
 * usage error.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "retort.h"

#define DEFAULT_MODEL_FILE "SmolLM2-135M-Instruct.Q4_1.gguf"
#define DEFAULT_PROMPT "Write one sentence about the sea."

struct options {
    const char *model_path;
    const char *prompt;
    unsigned max_tokens;
    unsigned threads;
    unsigned context;
    float temperature;
    unsigned long long seed;
    int from_memory;
};

/* What the piece callback needs: where to write, and how much it wrote. */
struct stream {
    FILE *out;
    size_t bytes;
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Reports a failed call and returns 1 (the exit status for a Retort error). */
static int fail(const char *what, retort_status status) {
    fprintf(stderr, "retort-example: %s: %s: %s\n", what, retort_status_name(status),
            retort_last_error());
    return 1;
}

static int usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s [-m MODEL.gguf] [-n MAX_TOKENS] [-t THREADS] [-c CONTEXT] [--temp T]\n"
            "          [--seed S] [--memory] [PROMPT]\n",
            argv0);
    return 2;
}

static int parse_unsigned(const char *text, unsigned *out) {
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v > 0xFFFFFFFFul) {
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

static int parse_options(int argc, char **argv, struct options *o) {
    o->model_path = NULL;
    o->prompt = DEFAULT_PROMPT;
    o->max_tokens = 64;
    o->threads = 0;
    o->context = 2048;
    o->temperature = 0.0f;
    o->seed = 0;
    o->from_memory = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "-m") == 0 && has_value) {
            o->model_path = argv[++i];
        } else if (strcmp(a, "-n") == 0 && has_value) {
            if (parse_unsigned(argv[++i], &o->max_tokens) != 0) return -1;
        } else if (strcmp(a, "-t") == 0 && has_value) {
            if (parse_unsigned(argv[++i], &o->threads) != 0) return -1;
        } else if (strcmp(a, "-c") == 0 && has_value) {
            if (parse_unsigned(argv[++i], &o->context) != 0) return -1;
        } else if (strcmp(a, "--temp") == 0 && has_value) {
            char *end = NULL;
            o->temperature = strtof(argv[++i], &end);
            if (*end != '\0') return -1;
        } else if (strcmp(a, "--seed") == 0 && has_value) {
            char *end = NULL;
            o->seed = strtoull(argv[++i], &end, 10);
            if (*end != '\0') return -1;
        } else if (strcmp(a, "--memory") == 0) {
            o->from_memory = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            return -1;
        } else {
            o->prompt = a;
        }
    }
    return 0;
}

/* The default model's path in Retort's cache, into buf; -1 when no cache directory is known. */
static int default_model_path(char *buf, size_t capacity) {
    const char *home = getenv("RETORT_HOME");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *user = getenv("HOME");
    int n;
    if (home != NULL && home[0] != '\0') {
        n = snprintf(buf, capacity, "%s/models/%s", home, DEFAULT_MODEL_FILE);
    } else if (xdg != NULL && xdg[0] != '\0') {
        n = snprintf(buf, capacity, "%s/retort/models/%s", xdg, DEFAULT_MODEL_FILE);
    } else if (user != NULL && user[0] != '\0') {
        n = snprintf(buf, capacity, "%s/.cache/retort/models/%s", user, DEFAULT_MODEL_FILE);
    } else {
        return -1;
    }
    return (n < 0 || (size_t)n >= capacity) ? -1 : 0;
}

/* Streams each piece to stdout as soon as it is valid UTF-8. Returns true to go on. */
static bool on_piece(const char *piece, size_t len, void *user_data) {
    struct stream *s = user_data;
    fwrite(piece, 1, len, s->out);
    fflush(s->out);
    s->bytes += len;
    return true;
}

/* A file mapped read-only: the "flash region" of the --memory path. */
struct region {
    void *data;
    size_t len;
};

static int map_file(const char *path, struct region *r) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "retort-example: open %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        fprintf(stderr, "retort-example: cannot size %s\n", path);
        close(fd);
        return -1;
    }
    r->len = (size_t)st.st_size;
    /* A page-aligned, read-only map: it satisfies RETORT_MODEL_MEMORY_ALIGN. */
    r->data = mmap(NULL, r->len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (r->data == MAP_FAILED) {
        fprintf(stderr, "retort-example: mmap %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    struct options opt;
    if (parse_options(argc, argv, &opt) != 0) {
        return usage(argv[0]);
    }
    if (retort_abi_version() != RETORT_ABI_VERSION) {
        fprintf(stderr, "retort-example: header ABI %d, library ABI %u\n", RETORT_ABI_VERSION,
                retort_abi_version());
        return 1;
    }
    char cached[4096];
    if (opt.model_path == NULL) {
        if (default_model_path(cached, sizeof cached) != 0) {
            fprintf(stderr, "retort-example: no cache directory; pass -m MODEL.gguf\n");
            return 2;
        }
        opt.model_path = cached;
    }

    int rc = 1;
    retort_status st;
    retort_model *model = NULL;
    retort_session *session = NULL;
    uint32_t *ids = NULL;
    struct region region = {NULL, 0};

    double t0 = now_ms();
    if (opt.from_memory) {
        if (map_file(opt.model_path, &region) != 0) goto done;
        st = retort_model_open_memory(region.data, region.len, &model);
    } else {
        st = retort_model_open(opt.model_path, &model);
    }
    if (st != RETORT_STATUS_OK) {
        rc = fail(opt.model_path, st);
        goto done;
    }
    double load_ms = now_ms() - t0;
    retort_model_info info;
    if ((st = retort_model_get_info(model, &info)) != RETORT_STATUS_OK) {
        rc = fail("model info", st);
        goto done;
    }

    retort_session_params sp = retort_session_default_params();
    sp.n_ctx = opt.context < info.n_ctx_train ? opt.context : info.n_ctx_train;
    sp.n_threads = opt.threads;
    if ((st = retort_session_new(model, sp, &session)) != RETORT_STATUS_OK) {
        rc = fail("session", st);
        goto done;
    }

    /* The prompt through the chat template: ask for the size first, then fill. */
    retort_chat_message messages[] = {{"user", opt.prompt}};
    retort_chat_params cp = retort_chat_default_params();
    size_t n_ids = 0;
    st = retort_chat_tokenize(model, messages, 1, cp, NULL, 0, &n_ids);
    if (st != RETORT_STATUS_BUFFER_TOO_SMALL && st != RETORT_STATUS_OK) {
        rc = fail("chat template", st);
        goto done;
    }
    ids = malloc(n_ids * sizeof *ids);
    if (ids == NULL) {
        fprintf(stderr, "retort-example: out of memory\n");
        goto done;
    }
    if ((st = retort_chat_tokenize(model, messages, 1, cp, ids, n_ids, &n_ids)) !=
        RETORT_STATUS_OK) {
        rc = fail("chat template", st);
        goto done;
    }

    retort_generate_params gp = retort_generate_default_params();
    gp.max_tokens = opt.max_tokens;
    gp.sampler.temperature = opt.temperature;
    gp.sampler.seed = opt.seed;
    struct stream out = {stdout, 0};
    retort_generation gen;
    st = retort_generate(session, ids, n_ids, gp, on_piece, &out, &gen);
    fputc('\n', stdout);
    if (st != RETORT_STATUS_OK) {
        rc = fail("generate", st);
        goto done;
    }

    const char *stop = gen.stop_reason == RETORT_STOP_REASON_END_OF_GENERATION ? "end of generation"
                       : gen.stop_reason == RETORT_STOP_REASON_MAX_TOKENS      ? "token limit"
                       : gen.stop_reason == RETORT_STOP_REASON_CONTEXT_FULL    ? "context full"
                                                                               : "callback";
    double decode_s = gen.generate_ms / 1e3;
    fprintf(stderr,
            "[retort %s, %s, tier %s%s] load %.0f ms | prompt %u tokens, %.1f tok/s | "
            "generated %u tokens (%zu bytes), %.1f tok/s | stop: %s\n",
            retort_version(), info.architecture, retort_kernel_tier(),
            opt.from_memory ? ", from memory" : "", load_ms, gen.n_prompt_tokens,
            gen.n_prompt_tokens / (gen.prompt_ms / 1e3 + 1e-9), gen.n_generated_tokens, out.bytes,
            gen.n_generated_tokens > 1 ? (gen.n_generated_tokens - 1) / (decode_s + 1e-9) : 0.0,
            stop);
    rc = 0;

done:
    free(ids);
    /* Sessions first: the model (and a borrowed region under it) must outlive them. */
    retort_session_free(session);
    retort_model_free(model);
    if (region.data != NULL) {
        munmap(region.data, region.len);
    }
    return rc;
}
