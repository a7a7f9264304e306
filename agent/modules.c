/* modules.c: the module registry: every object loaded into the process that
 * a recorded stack points into, with its path, load bias, PT_LOAD ranges and
 * GNU build-id. Entries are never removed, so a library dlclose()d before the
 * report is still on record (state U) and its frames can be symbolized.
 * Refreshed from dl_iterate_phdr, never while holding another agent lock.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <link.h>
#include <string.h>

#include "agent.h"

#define MAX_MODULES 2048
#define MAX_LOADS 8
#define NAMES_CHUNK 65536

struct module {
	uintptr_t bias, lo, hi; /* [lo, hi): all PT_LOAD segments */
	const char *path;
	int loaded;             /* seen in the latest refresh */
	int nload;
	struct { uintptr_t vaddr, memsz; int prot; } load[MAX_LOADS];
	int build_id_len;
	unsigned char build_id[32];
};

static LA_BIG struct module mods[MAX_MODULES];
static int nmods;
static unsigned long long last_adds = ~0ull, last_subs = ~0ull;
static char *names;
static size_t names_used;

static const char *keep_name(const char *s)
{
	size_t n = strlen(s) + 1;
	if (n > NAMES_CHUNK)
		return "?";
	if (!names || names_used + n > NAMES_CHUNK) {
		names = la_map(NAMES_CHUNK);
		names_used = 0;
		if (!names)
			return "?";
	}
	char *p = names + names_used;
	memcpy(p, s, n);
	names_used += n;
	return p;
}

static void read_build_id(struct module *m, const struct dl_phdr_info *info)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		const char *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const char *name = p + sizeof(*nh);
			const unsigned char *desc =
				(const unsigned char *)name + ((nh->n_namesz + 3) & ~3u);
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    memcmp(name, "GNU", 4) == 0 && nh->n_descsz <= sizeof(m->build_id)) {
				memcpy(m->build_id, desc, nh->n_descsz);
				m->build_id_len = (int)nh->n_descsz;
				return;
			}
			p = (const char *)desc + ((nh->n_descsz + 3) & ~3u);
		}
	}
}

static struct module *find_locked(uintptr_t bias, const char *path)
{
	for (int i = 0; i < nmods; i++)
		if (mods[i].bias == bias && strcmp(mods[i].path, path) == 0)
			return &mods[i];
	return NULL;
}

static int refresh_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	int *first = data;
	(void)size;
	if (*first) {
		*first = 0;
		if (info->dlpi_adds == last_adds && info->dlpi_subs == last_subs)
			return 1; /* nothing loaded or unloaded since last time */
		last_adds = info->dlpi_adds;
		last_subs = info->dlpi_subs;
		for (int i = 0; i < nmods; i++)
			mods[i].loaded = 0;
	}
	const char *path = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : la_exe_path;
	struct module *m = find_locked(info->dlpi_addr, path);
	if (m) {
		m->loaded = 1;
		return 0;
	}
	if (nmods == MAX_MODULES)
		return 0;
	m = &mods[nmods];
	memset(m, 0, sizeof(*m));
	m->bias = info->dlpi_addr;
	m->lo = UINTPTR_MAX;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || m->nload == MAX_LOADS)
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		m->load[m->nload].vaddr = ph->p_vaddr;
		m->load[m->nload].memsz = ph->p_memsz;
		m->load[m->nload].prot = (int)ph->p_flags;
		m->nload++;
		if (lo < m->lo)
			m->lo = lo;
		if (lo + ph->p_memsz > m->hi)
			m->hi = lo + ph->p_memsz;
	}
	read_build_id(m, info);
	m->path = keep_name(path);
	m->loaded = 1;
	__atomic_store_n(&nmods, nmods + 1, __ATOMIC_RELEASE);
	return 0;
}

void la_modules_refresh(void)
{
	int first = 1;
	/* The loader lock serializes refreshes; readers see entries published
	 * whole through nmods. */
	dl_iterate_phdr(refresh_cb, &first);
}

static int known(uintptr_t pc)
{
	int n = __atomic_load_n(&nmods, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++)
		if (pc >= mods[i].lo && pc < mods[i].hi)
			return 1;
	return 0;
}

void la_modules_note(const uintptr_t *pcs, int n)
{
	for (int i = 0; i < n; i++) {
		if (!known(pcs[i] - 1)) {
			la_modules_refresh();
			return;
		}
	}
}

static void write_prot(struct la_writer *w, int flags)
{
	char p[4] = { flags & PF_R ? 'r' : '-', flags & PF_W ? 'w' : '-', flags & PF_X ? 'x' : '-', 0 };
	la_writer_str(w, " ");
	la_writer_str(w, p);
}

void la_modules_write(struct la_writer *w)
{
	int n = __atomic_load_n(&nmods, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++) {
		const struct module *m = &mods[i];
		char id[2 * sizeof(m->build_id) + 1];
		for (int k = 0; k < m->build_id_len; k++) {
			id[2 * k] = "0123456789abcdef"[m->build_id[k] >> 4];
			id[2 * k + 1] = "0123456789abcdef"[m->build_id[k] & 15];
		}
		id[2 * m->build_id_len] = 0;
		la_writer_tag(w, 'm');
		la_writer_hex(w, (uint64_t)i);
		la_writer_hex(w, m->bias);
		la_writer_str(w, m->loaded ? " L " : " U ");
		la_writer_str(w, m->build_id_len ? id : "-");
		la_writer_esc(w, m->path);
		la_writer_eol(w);
		for (int k = 0; k < m->nload; k++) {
			la_writer_tag(w, 'l');
			la_writer_hex(w, (uint64_t)i);
			la_writer_hex(w, m->load[k].vaddr);
			la_writer_hex(w, m->load[k].memsz);
			write_prot(w, m->load[k].prot);
			la_writer_eol(w);
		}
	}
}
