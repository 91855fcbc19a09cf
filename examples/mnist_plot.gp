# Draws examples/mnist's curves as PNG: gnuplot -e "csv='mnist_curves.csv'" examples/mnist_plot.gp
# Writes mnist_curves.png (loss on the left axis, accuracies on the right).
if (!exists("csv")) csv = 'mnist_curves.csv'
set terminal pngcairo size 900,500
set output 'mnist_curves.png'
set datafile separator ','
set key autotitle columnhead right center
set xlabel 'epoch'
set ylabel 'train loss'
set y2label 'accuracy'
set ytics nomirror
set y2tics
set grid
plot csv using 1:2 with linespoints axes x1y1 title 'train loss', \
     csv using 1:3 with linespoints axes x1y2 title 'train accuracy', \
     csv using 1:4 with linespoints axes x1y2 title 'test accuracy'
