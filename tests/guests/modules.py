"""The kernel modules a guest loads from a kernel package, in an order that loads each one's
dependencies first (read from the modules themselves: their `.modinfo` depends= line)."""
import re


def depends(ko: bytes) -> list:
    m = re.search(rb"(?:^|\0)depends=([^\0]*)\0", ko)
    return [d for d in m.group(1).decode().split(",") if d] if m else []


def load_order(modules: dict, roots, builtin=frozenset(), who="guest") -> list:
    """Names of `modules` (name -> .ko bytes) to insmod for `roots`, dependencies first; those
    built into the kernel (`builtin`) are skipped."""
    order, seen = [], set()

    def visit(name, chain):
        if name in seen or name in builtin:
            return
        if name not in modules:
            raise SystemExit(f"{who}: module {name} (needed by {' <- '.join(chain)}) is neither "
                             "in the kernel package nor built in")
        seen.add(name)
        for dep in depends(modules[name]):
            visit(dep, chain + [dep])
        order.append(name)

    for root in roots:
        visit(root, [root])
    return order
