/* Claim: a program that frees what it allocates has no lost block in the
 * whole report, whatever glibc and libstdc++ keep for their own lifetime
 * (threads and their DTV, stdio, locale, getaddrinfo's NSS modules, C++
 * iostreams): those may be reachable, never lost. */
// EXPECT: lost 0
// EXPECT: stdout clean
#include <locale.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

static __thread char tls_buf[64];

static void *work(void *arg)
{
	char *p = static_cast<char *>(malloc(1000));
	memset(p, 1, 1000);
	free(p);
	snprintf(tls_buf, sizeof(tls_buf), "%p", arg);
	return arg;
}

int main()
{
	setlocale(LC_ALL, "C.UTF-8");
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, work, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	std::thread th([] {
		std::ostringstream os;
		os << "thread " << 42;
		std::string s = os.str();
	});
	th.join();

	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	if (getaddrinfo("localhost", "80", &hints, &res) == 0)
		freeaddrinfo(res);

	FILE *f = fopen("/proc/self/status", "r");
	char *line = NULL;
	size_t n = 0;
	while (f && getline(&line, &n, f) > 0)
		;
	free(line);
	if (f)
		fclose(f);

	std::vector<std::string> v;
	for (int i = 0; i < 100; i++)
		v.push_back(std::string(40, 'a'));
	std::cout << "clean" << std::endl;
	std::cerr << "to stderr " << 1.5 << std::endl;
	return 0;
}
