// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* attach BPF_OBJ BINARY FILE_OFFSET CMD...: run CMD with an empty uprobe at BINARY+FILE_OFFSET. */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct bpf_object *o;
	struct bpf_link *l;
	pid_t pid;
	int st;

	if (argc < 5) {
		fprintf(stderr, "usage: %s BPF_OBJ BINARY FILE_OFFSET CMD...\n", argv[0]);
		return 2;
	}
	o = bpf_object__open_file(argv[1], NULL);
	if (!o || bpf_object__load(o))
		return 1;
	l = bpf_program__attach_uprobe(bpf_object__find_program_by_name(o, "empty"), false, -1, argv[2],
				       strtoul(argv[3], NULL, 0));
	if (!l) {
		perror("attach");
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		execv(argv[4], argv + 4);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	bpf_link__destroy(l);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
