/* defsupp_mod.c: a library whose constructor calls back into the program
 * that dlopens it (see defsupp.c). */
void defsupp_lose(void);

__attribute__((constructor)) static void init(void)
{
	defsupp_lose();
}
