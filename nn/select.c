/* Parameter selectors: which dotted names a selector such as "enc", "*.lora_*" or
 * "**.bias" picks (lg_params_name_matches in nn.h). One rule shared by lg_params_freeze,
 * the checkpoint save and load, and the Hessian's parameter choice. Nothing is allocated. */
#include <string.h>
#include "lagrad/nn.h"

/* Length of the component starting at s: up to the next '.' or the end. */
static size_t comp_len(const char *s) { return strcspn(s, "."); }

/* Glob match of one component: '*' matches any run of characters (never a '.', since
 * components hold none); everything else matches itself. */
static bool glob(const char *p, size_t pn, const char *s, size_t sn)
{
    size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;
    while (si < sn) {
        if (pi < pn && p[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (pi < pn && p[pi] == s[si]) {
            pi++;
            si++;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < pn && p[pi] == '*')
        pi++;
    return pi == pn;
}

/* Whether the components of sel (sel_end its end) match the leading components of name.
 * name is NULL when its components are used up. */
static bool match_from(const char *sel, const char *sel_end, const char *name)
{
    if (sel >= sel_end)
        return true; /* every selector component matched: name is it or lies under it */
    size_t sl = comp_len(sel);
    if (sel + sl > sel_end)
        sl = (size_t)(sel_end - sel);
    const char *sel_next = sel + sl + (sel + sl < sel_end ? 1 : 0);
    if (sl == 2 && sel[0] == '*' && sel[1] == '*') {
        /* "**": zero or more whole components. */
        for (const char *n = name;; ) {
            if (match_from(sel_next, sel_end, n))
                return true;
            if (!n)
                return false;
            size_t nl = comp_len(n);
            n = n[nl] == '.' ? n + nl + 1 : NULL;
        }
    }
    if (!name)
        return false;
    size_t nl = comp_len(name);
    if (!glob(sel, sl, name, nl))
        return false;
    return match_from(sel_next, sel_end, name[nl] == '.' ? name + nl + 1 : NULL);
}

bool lg_params_name_matches(const char *selector, const char *name)
{
    if (!selector || !name)
        return false;
    size_t n = strlen(selector);
    if (n == 0)
        return true;
    if (selector[n - 1] == '.') /* "enc." is "enc" */
        n--;
    return match_from(selector, selector + n, name);
}
