/* leakagent-raw.h: the raw report format, the one contract between the agent
 * (which writes it) and the collector (which reads it). Plain constants only;
 * both halves include this file, nothing else of each other.
 *
 * A raw report is a text file of lines, each "<tag> <fields...>\n". Every
 * numeric field is lowercase hexadecimal without a prefix. String fields are
 * the last field of their line and percent-encoded: bytes <= 0x20, '%' and
 * bytes >= 0x7f are written as %XX; an empty string is simply nothing.
 * A reader skips lines whose tag it does not know, so a newer agent still
 * works with an older collector; a newer *version* on the first line means
 * fields of known tags changed, and an older reader must refuse it.
 *
 *   LEAKAGENT-RAW <version>                  first line; version is LA_RAW_VERSION
 *   p <pid> <ppid>
 *   c <pid>                                  only in a forked child that has not
 *                                            exec'd since: the pid it forked from
 *   x <path>                                 the executable (/proc/self/exe at start)
 *   a <index> <arg>                          command line, one line per argument
 *   t <trigger> <seq> <sec> <nsec>           what wrote this report: exit | signal |
 *                                            delta | api; seq counts reports of this
 *                                            process from 1; realtime clock
 *   d <baseseq>                              only in a delta report (SIGUSR2 or
 *                                            leakagent_snapshot(1)): its r lines hold
 *                                            only blocks allocated since the mark that
 *                                            report baseseq set (0: process start) and
 *                                            still outstanding; writing it sets a new
 *                                            mark (a delta that could not be written
 *                                            leaves the mark where it was). Blocks
 *                                            inherited at fork predate the mark of a
 *                                            child's first delta.
 *   k <signo>                                an exit report written as the process
 *                                            dies of this signal by its default
 *                                            action (SIGSEGV, SIGTERM, ...)
 *   o <name> <value>                         an effective agent option
 *   m <id> <bias> <state> <build-id> <path>  module: load bias (dlpi_addr); state L
 *                                            loaded at report time, U unloaded
 *                                            (dlclose()d, kept for symbols); build-id
 *                                            hex or '-'; path as loaded
 *   l <id> <vaddr> <memsz> <prot>            one PT_LOAD of module id (p_vaddr,
 *                                            p_memsz, prot as 'rwx' letters or '-')
 *   s <id> <n> <pc1> ... <pcn>               stack id: n return addresses, innermost
 *                                            first (the allocator's caller is pc1);
 *                                            the collector looks up pc-1
 *   r <kind> <fam> <origin> <stack> <bytes> <blocks> <ibytes> <iblocks>
 *                                            outstanding blocks of one (kind, family,
 *                                            origin, stack); ibytes/iblocks: blocks
 *                                            indirectly lost through these blocks
 *   b <addr> <size>                          one of the largest blocks of the
 *                                            preceding r line (at most LA_RAW_LARGEST)
 *   g <kind> <fam> <stack> <dbytes> <dblocks>  delta reports: change of ALL the
 *                                            outstanding blocks of (kind, family,
 *                                            stack) since the mark, each number
 *                                            signed: a leading '-' marks a decrease;
 *                                            unchanged keys have no line
 *   f <what> <afam> <ffam> <astack> <fstack> <addr> <size> <count>
 *                                            finding: what is "mismatch" (freed with
 *                                            the wrong family) or "invalid" (address
 *                                            never allocated; afam '-', astack 0)
 *   w <seen> <parked> <unparked> <scanned>   stop-the-world completeness: threads
 *                                            seen, parked (the reporting thread
 *                                            counts as seen and parked), not parked
 *                                            (their whole stacks scanned
 *                                            conservatively); scanned is 1 when
 *                                            reachability ran, 0 when not (all
 *                                            records are then kind U)
 *   n <kind> <bytes> <blocks>                total per kind
 *   e <lines>                                end marker: number of lines before it.
 *                                            A file without it is truncated.
 *
 * Stack id 0 means "no stack". Ids of s lines start at 1. Every stack an r, f
 * or g line names has an s line earlier in the file.
 */
#ifndef LEAKAGENT_RAW_H
#define LEAKAGENT_RAW_H

#define LA_RAW_MAGIC "LEAKAGENT-RAW"
#define LA_RAW_VERSION 1
#define LA_RAW_LARGEST 4 /* b lines per record at most */

/* kinds: memcheck's four, plus U when no reachability scan ran */
#define LA_KIND_DEFINITE 'D'
#define LA_KIND_INDIRECT 'I'
#define LA_KIND_POSSIBLE 'P'
#define LA_KIND_REACHABLE 'R'
#define LA_KIND_UNKNOWN 'U'

/* families: which allocator API produced a block */
#define LA_FAM_MALLOC 'm' /* malloc calloc realloc memalign posix_memalign ... */
#define LA_FAM_NEW 'n'    /* operator new (all forms) */
#define LA_FAM_NEW_ARRAY 'a' /* operator new[] (all forms) */

/* origin of a block */
#define LA_ORIGIN_OWN '-'
#define LA_ORIGIN_INHERITED 'i' /* allocated by the parent before fork */

#endif
