/* BCC's helpers.h includes <asm/page.h> for PAGE_SIZE (ring buffer sizes). x86_64: 4 KiB. */
#ifndef HBREAK_IF_STUB_PAGE_H
#define HBREAK_IF_STUB_PAGE_H

#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)

#endif
