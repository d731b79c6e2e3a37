// The chart page: draws the availability table's figures with Chart.js (the table stays for keyboard and screen reader).
document.addEventListener('DOMContentLoaded', () => {
  const canvas = document.getElementById('availability-chart');
  const data = document.getElementById('chart-data');
  if (!canvas || !data || typeof Chart === 'undefined') return;
  const history = JSON.parse(data.textContent);
  const colours = ['#0b4f8a', '#c2410c', '#15803d', '#7e22ce', '#b91c1c', '#0e7490', '#4d7c0f', '#a16207'];
  window.deskChart = new Chart(canvas, {
    type: 'line',
    data: {
      labels: history.days,
      datasets: history.series.map((series, index) => ({
        label: series.display,
        data: series.available,
        borderColor: colours[index % colours.length],
        backgroundColor: colours[index % colours.length],
        spanGaps: true,
      })),
    },
    options: { animation: false, responsive: true, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
});
