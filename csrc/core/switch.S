/*
 * switch.S - out-of-line context switch for x86_64 SysV and aarch64.
 *
 * moonlet__ctx_switch(moonlet_ctx *from, moonlet_ctx *to): pushes the
 * callee-saved registers and the FP control state on the current stack,
 * stores the stack pointer in from->sp, loads to->sp and pops the same frame.
 * The frame layout must match moonlet__ctx_init in switch.c.
 */
#if !defined(MOONLET_SWITCH_UCONTEXT)

#if defined(__x86_64__)
	.text
	.globl	moonlet__ctx_switch
	.hidden	moonlet__ctx_switch
	.type	moonlet__ctx_switch, @function
	.p2align 4
moonlet__ctx_switch:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movq	(%rsi), %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	moonlet__ctx_switch, .-moonlet__ctx_switch

/* First code a new context runs: r12 holds the argument, r13 the function. */
	.globl	moonlet__ctx_trampoline
	.hidden	moonlet__ctx_trampoline
	.type	moonlet__ctx_trampoline, @function
	.p2align 4
moonlet__ctx_trampoline:
	.cfi_startproc
	.cfi_undefined rip
	movq	%r12, %rdi
	callq	*%r13
	ud2
	.cfi_endproc
	.size	moonlet__ctx_trampoline, .-moonlet__ctx_trampoline
	.section .note.GNU-stack,"",@progbits

#elif defined(__aarch64__)
	.text
	.globl	moonlet__ctx_switch
	.hidden	moonlet__ctx_switch
	.type	moonlet__ctx_switch, %function
	.p2align 4
moonlet__ctx_switch:
	.cfi_startproc
	sub	sp, sp, #176
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mrs	x9, fpcr
	str	x9, [sp, #160]
	mov	x9, sp
	str	x9, [x0]
	ldr	x9, [x1]
	mov	sp, x9
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	ldr	x9, [sp, #160]
	msr	fpcr, x9
	add	sp, sp, #176
	ret
	.cfi_endproc
	.size	moonlet__ctx_switch, .-moonlet__ctx_switch

/* First code a new context runs: x19 holds the argument, x20 the function. */
	.globl	moonlet__ctx_trampoline
	.hidden	moonlet__ctx_trampoline
	.type	moonlet__ctx_trampoline, %function
	.p2align 4
moonlet__ctx_trampoline:
	.cfi_startproc
	.cfi_undefined x30
	mov	x0, x19
	blr	x20
	brk	#0
	.cfi_endproc
	.size	moonlet__ctx_trampoline, .-moonlet__ctx_trampoline
	.section .note.GNU-stack,"",%progbits
#endif

#else
#if defined(__linux__) && defined(__ELF__)
	.section .note.GNU-stack,"",%progbits
#endif
#endif
