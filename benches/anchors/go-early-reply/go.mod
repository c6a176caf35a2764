module linger/anchors/go-early-reply

go 1.19
