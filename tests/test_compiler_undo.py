"""compiler/undo.py: which instructions a uprobe's stop can be put back before, and where they
store (GDB's AT&T disassembly, as the uprobe tier reads it)."""
import re

import pytest

from gdb_plugin.compiler.undo import PUSH, NotUndoable, StackStore, undo_plan


@pytest.mark.parametrize("instruction,frame_pointer,store", [
    ("push   %rbp", False, PUSH),
    ("call   0x555555555139 <target>", False, PUSH),
    ("call   *0x8(%rax)", False, PUSH),
    ("mov    %rsp,%rbp", False, None),
    ("mov    -0x18(%rbp),%rax", False, None),            # a load
    ("lea    -0x18(%rbp),%rax", False, None),
    ("cmpl   $0x3,-0x4(%rbp)", False, None),              # compares only read
    ("imul   $0x3,(%rax),%rdx", False, None),
    ("nopw   0x0(%rax,%rax,1)", False, None),
    ("cs nopw 0x0(%rax,%rax,1)", False, None),
    ("endbr64", False, None),
    ("leave", False, None),
    ("ret", False, None),
    ("pop    %rbx", False, None),
    ("jmp    *(%rax)", False, None),
    ("mov    %rdi,-0x18(%rbp)", True, StackStore("rbp", -0x18)),
    ("movl   $0x0,-0x4(%rbp)  # a comment", True, StackStore("rbp", -4)),
    ("mov    %rax,0x8(%rsp)", False, StackStore("rsp", 8)),
    ("add    %rax,(%rsp)", False, StackStore("rsp", 0)),
    ("incl   0x10(%rsp,%rcx,4)", False, StackStore("rsp", 0x10, "rcx", 4)),
])
def test_undoable_instructions_and_their_store(instruction, frame_pointer, store):
    assert undo_plan(instruction, frame_pointer) == store


@pytest.mark.parametrize("instruction,frame_pointer,why", [
    ("mov    %rdx,(%rax)", True, "it stores to (%rax), which another thread may read"),
    ("mov    %rdi,-0x18(%rbp)", False, "it stores to -0x18(%rbp)"),   # rbp is no frame pointer
    ("mov    %eax,0x2ee5(%rip)", False, "it stores to 0x2ee5(%rip)"),
    ("mov    %rax,%fs:0x28", False, "%fs"),
    ("lock addl $0x1,(%rsp)", False, "its lock prefix"),
    ("rep stos %rax,%es:(%rdi)", False, "its rep prefix"),
    ("syscall", False, "syscall has effects beyond"),
    ("xchg   %rax,(%rsp)", False, "xchg acts on memory other threads share"),
    ("btsq   %rax,(%rsp)", False, "may store anywhere its bit offset reaches"),
    ("movaps %xmm0,(%rsp)", False, "%xmm0, which the kernel does not keep"),
    ("fstpl  -0x8(%rbp)", True, "fstpl has effects beyond"),
    ("popq   (%rsp)", False, "may store to memory"),
    ("enter  $0x10,$0x0", False, "enter has effects beyond"),
])
def test_instructions_that_cannot_be_put_back_say_why(instruction, frame_pointer, why):
    with pytest.raises(NotUndoable, match=re.escape(why)):
        undo_plan(instruction, frame_pointer)
