/* <uapi/linux/if_packet.h> -> /usr/include/linux/if_packet.h */
#include <linux/if_packet.h>
