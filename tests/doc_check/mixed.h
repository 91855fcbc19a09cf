/* Fixture for scripts/check-doc-comments.py: exactly three prototypes below lack a
 * comment (undocumented_a, undocumented_b, undocumented_c); every other one is documented
 * by one of the rules. test_doc_comments_fixture counts the lines the checker reports. */
#ifndef MIXED_H
#define MIXED_H

#ifdef __cplusplus
extern "C" {
#endif

/* A comment directly above. */
int documented_above(int x);
/* A group: this comment covers the next three lines. */
int documented_group_1(void);
void documented_group_2(const char *s,
                        int multi_line);
double documented_group_3(void);
int documented_trailing(void); /* a trailing comment */

int undocumented_a(void);

typedef struct fixture_struct {
    int (*callback)(int); /* a member, not a prototype */
} fixture_struct;
fixture_struct undocumented_b(void);

/* A comment, then a blank line, does not count. */

void undocumented_c(fixture_struct s);

#define NOT_A_PROTOTYPE(x) ((x) + 1)
typedef int (*not_a_prototype_fn)(int);

#ifdef __cplusplus
}
#endif
#endif
