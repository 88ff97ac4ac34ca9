
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Tokens out of the logs: nginx writes a request's request line into
 * $request and into every error log line about the request, so the
 * values of the query arguments that may carry a room token are masked
 * in it.  No nginx dependency: unit tests and fuzzers link this file
 * directly.
 */


#ifndef _ROOMS_MASK_H_INCLUDED_
#define _ROOMS_MASK_H_INCLUDED_


#include <stddef.h>


#define ROOMS_MASK        "***"
#define ROOMS_MASK_LEN    3


typedef struct {
    const char  *data;
    size_t       len;
} rooms_mask_name_t;


/*
 * Masks line[0..len), an HTTP request line ("METHOD target" with an
 * optional " HTTP/x.y", spaces before and after it as nginx takes them):
 * in the target's query, which starts at its first
 * '?', every argument named one of names[0..n) (ASCII case-insensitively,
 * as nginx's ngx_http_arg() matches them) has its value replaced by "***".
 * An argument begins right after the '?' or after a '&'; its value runs
 * from the '=' to the next '&' or to the end of the target.  Empty values
 * are left as they are.  Every argument is masked, repeated ones too,
 * whichever of them nginx would read.
 *
 * With out == NULL, only measures: returns the length of the masked line
 * and sets *masked to the number of values to mask (0: the line is left
 * as it is).  With out, writes that many bytes (no NUL) and returns the
 * length.  The masked line may be longer than line: a value of one or two
 * bytes grows to three.
 */
size_t rooms_mask_line(char *out, const char *line, size_t len,
    const rooms_mask_name_t *names, size_t n, size_t *masked);


/*
 * Writes to out the query args[0..len) (as nginx's $args: no '?') without
 * its arguments named one of names[0..n) and their values, the others
 * kept in their order; out must hold len bytes.  Returns the new length;
 * *removed (if not NULL) is the number of arguments left out.
 */
size_t rooms_mask_strip(char *out, const char *args, size_t len,
    const rooms_mask_name_t *names, size_t n, size_t *removed);


#endif /* _ROOMS_MASK_H_INCLUDED_ */
